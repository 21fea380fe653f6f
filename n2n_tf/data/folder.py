"""Image-folder datasets: ``PATH/<split>/<class>/*`` or ``PATH/<class>/*``.

Unreadable and non-image files are skipped and counted in one warning. Images
of mixed sizes are resized to one size (by default the most common one).
"""

from __future__ import annotations

import collections
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from n2n_tf.data.arrays import ArraySource

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
TRAIN_NAMES = ("train", "training")
TEST_NAMES = ("test", "testing")


def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _files(class_dir: Path) -> list[Path]:
    return sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith("."))


def _header(path: Path) -> tuple[tuple[int, int], str] | None:
    from PIL import Image

    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return None
    try:
        with Image.open(path) as im:
            return (im.height, im.width), im.mode
    except Exception:  # PIL raises many types for bad files; all mean "skip".
        return None


def _decode(path: Path, size: tuple[int, int], mode: str) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert(mode)
            if (im.height, im.width) != size:
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            array = np.asarray(im, dtype=np.uint8)
    except Exception:  # truncated or corrupt data shows up only when decoding.
        return None
    return array[..., None] if array.ndim == 2 else array


def _find_splits(root: Path) -> tuple[Path, Path | None]:
    children = {p.name.lower(): p for p in _class_dirs(root)}
    train = next((children[n] for n in TRAIN_NAMES if n in children), None)
    test = next((children[n] for n in TEST_NAMES if n in children), None)
    if train is not None:
        return train, test
    return root, None


def load_folder(
    path: str, image_size: tuple[int, int] | None = None, workers: int = 4
) -> ArraySource:
    """Reads an image folder into memory.

    Args:
        path: the folder (``PATH/<class>/*`` or ``PATH/train|test/<class>/*``).
        image_size: ``(height, width)`` to resize to; None uses the most common size.
        workers: decoding threads.

    Returns:
        An ``ArraySource``; ``x_test`` is set when the folder has a test split.

    Raises:
        ValueError: if the folder does not exist, has no class folders, or no
            readable image.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(
            "Image folder not found: expected PATH/<class>/*.jpg or PATH/train/<class>/*.jpg. "
            f"Received: dataset='folder:{path}'"
        )
    train_root, test_root = _find_splits(root)
    class_dirs = _class_dirs(train_root)
    if not class_dirs:
        raise ValueError(
            "Image folder has no class sub-folders: expected PATH/<class>/*.jpg. "
            f"Received: dataset='folder:{path}'"
        )
    class_names = tuple(d.name for d in class_dirs)
    parts = {"train": train_root, "test": test_root} if test_root else {"train": train_root}
    listed: dict[str, list[tuple[Path, int]]] = {}
    for part, part_root in parts.items():
        listed[part] = []
        for label, name in enumerate(class_names):
            class_dir = part_root / name
            if class_dir.is_dir():
                listed[part] += [(f, label) for f in _files(class_dir)]

    everything = [item for items in listed.values() for item in items]
    with ThreadPoolExecutor(workers) as pool:
        headers = dict(
            zip(everything, pool.map(lambda it: _header(it[0]), everything), strict=True)
        )
    good = [h for h in headers.values() if h is not None]
    if not good:
        raise ValueError(f"Image folder has no readable image. Received: dataset='folder:{path}'")
    size = (
        tuple(image_size)
        if image_size
        else collections.Counter(s for s, _ in good).most_common(1)[0][0]
    )
    mode = "L" if all(m in ("L", "1", "I;16", "I") for _, m in good) else "RGB"

    skipped = sum(h is None for h in headers.values())
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for part, items in listed.items():
        items = [it for it in items if headers[it] is not None]
        with ThreadPoolExecutor(workers) as pool:
            arrays = list(pool.map(lambda it: _decode(it[0], size, mode), items))
        kept = [(a, label) for a, (_, label) in zip(arrays, items, strict=True) if a is not None]
        skipped += len(items) - len(kept)
        channels = 1 if mode == "L" else 3
        x = np.stack([a for a, _ in kept]) if kept else np.zeros((0, *size, channels), np.uint8)
        out[part] = (x, np.array([label for _, label in kept], dtype=np.int64))
    if skipped:
        logger.warning(
            "Skipped %d unreadable or non-image file(s) in %s (supported: %s).",
            skipped,
            root,
            ", ".join(IMAGE_SUFFIXES),
        )
    if len(out["train"][0]) == 0:
        raise ValueError(
            f"Image folder has no readable training image. Received: dataset='folder:{path}'"
        )
    x_test, y_test = out.get("test", (None, None))
    return ArraySource(out["train"][0], out["train"][1], class_names, x_test, y_test)
