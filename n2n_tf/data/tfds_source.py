"""tensorflow-datasets sources, with a bounded wait when the data cannot be fetched."""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

HINT = (
    "Point at local data with --data-dir DIR (a tensorflow-datasets data directory that "
    "already holds it), use an image folder with --dataset folder:PATH, or a bundled set "
    "(mnist5k, digits)."
)


class DatasetUnavailableError(ValueError):
    """The dataset is not on disk and could not be downloaded."""


def _dir_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


_DOWNLOAD = (
    "import sys, tensorflow_datasets as tfds\n"
    "tfds.builder(sys.argv[1], data_dir=sys.argv[2] or None).download_and_prepare()\n"
)


def _prepare(builder, name: str, data_dir: str | None, timeout_s: float) -> None:
    """Downloads in a child process, killed when no byte arrives within ``timeout_s``.

    A child process (not a thread) so that an unreachable host cannot keep the
    program alive with retries after we gave up.
    """
    watched = Path(builder.data_dir).parent.parent / "downloads"
    before = _dir_bytes(watched)
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as log:
        child = subprocess.Popen(
            [sys.executable, "-c", _DOWNLOAD, name, data_dir or ""],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while child.poll() is None:
                time.sleep(0.5)
                if time.monotonic() - start > timeout_s and _dir_bytes(watched) <= before:
                    raise DatasetUnavailableError(
                        f"Dataset `{name}` is not on disk and nothing could be downloaded in "
                        f"{timeout_s:.0f} s (no network?). {HINT} Received: dataset='{name}'"
                    )
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        if child.returncode != 0:
            log.seek(0)
            lines = [line.strip() for line in log.read().splitlines() if line.strip()]
            reason = lines[-1][:300] if lines else f"exit code {child.returncode}"
            raise DatasetUnavailableError(
                f"Dataset `{name}` is not on disk and could not be downloaded ({reason}). "
                f"{HINT} Received: dataset='{name}'"
            )


def load_tfds(name: str, data_dir: str | None, timeout_s: float):
    """Returns ``(train, test_or_None, class_names, input_shape, sizes)`` for a tfds name.

    ``train`` and ``test`` yield unbatched ``(uint8 image, int label)``.

    Raises:
        ValueError: for an unknown name or a dataset without image/label features.
        DatasetUnavailableError: when the data is absent and cannot be fetched.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as err:  # DatasetNotFoundError and registry errors
        raise ValueError(
            f"Unknown dataset `{name}`: not a tensorflow-datasets name, `folder:PATH`, or a "
            f"bundled set (mnist5k, digits). Received: dataset='{name}'"
        ) from err
    if not builder.is_prepared():
        _prepare(builder, name, data_dir, timeout_s)
    info = builder.info
    keys = info.supervised_keys
    if not keys or len(keys) != 2:
        raise ValueError(
            f"Dataset `{name}` has no (image, label) supervised keys, so it is not an "
            f"image-classification dataset. Received: dataset='{name}'"
        )
    image_key, label_key = keys
    image_shape = tuple(info.features[image_key].shape)
    if len(image_shape) != 3 or None in image_shape:
        raise ValueError(
            f"Dataset `{name}` has images of varying size {image_shape}; use an image folder "
            f"with --dataset folder:PATH instead. Received: dataset='{name}'"
        )
    label = info.features[label_key]
    class_names = tuple(label.names)
    train = builder.as_dataset(split="train", as_supervised=True, shuffle_files=False)
    test = None
    if "test" in info.splits or not info.splits:
        test = builder.as_dataset(split="test", as_supervised=True, shuffle_files=False)
    sizes = {"train": _count(train)}
    if test is not None:
        sizes["test"] = _count(test)
    return train, test, class_names, image_shape, sizes


def _count(ds: tf.data.Dataset) -> int:
    """Examples in a split: its known cardinality, else one counting pass."""
    n = int(ds.cardinality())
    if n >= 0:
        return n
    return int(ds.reduce(np.int64(0), lambda count, _: count + 1))


def mask_split(ds: tf.data.Dataset, n: int, fraction: float, seed: int):
    """Splits a streamed dataset of ``n`` examples into (kept, carved) by a seeded mask."""
    from n2n_tf.data.arrays import carve

    _, carved = carve(n, fraction, seed)
    mask = np.zeros(n, dtype=bool)
    mask[carved] = True
    table = tf.constant(mask)
    indexed = ds.enumerate()

    def pick(want: bool):
        return indexed.filter(lambda i, ex: tf.equal(tf.gather(table, i), want)).map(
            lambda i, ex: ex
        )

    return pick(False), pick(True), int(n - mask.sum()), int(mask.sum())
