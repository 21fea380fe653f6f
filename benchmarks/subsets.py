"""Seeded per-class subsets of an image folder (the real CIFAR-10 JPEGs), shared by the
benchmarks that train teachers on part of the data."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path


def make_subset(root, per_class, seed, out):
    """A seeded subset of an image folder as symlinks (no copies)."""
    rng = random.Random(seed)
    for cls in sorted(os.listdir(root)):
        src = os.path.join(root, cls)
        if not os.path.isdir(src):
            continue
        files = sorted(os.listdir(src))
        os.makedirs(os.path.join(out, cls))
        for name in rng.sample(files, min(per_class, len(files))):
            os.symlink(os.path.join(src, name), os.path.join(out, cls, name))


def kept_subset(root, per_class: int, seed: int, out: Path) -> str:
    """``make_subset`` at ``out`` unless it is there; written beside it and renamed, so a
    killed benchmark never leaves half a subset."""
    out = Path(out)
    if not out.is_dir():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent))
        make_subset(os.path.abspath(root), per_class, seed, str(tmp / "d"))
        (tmp / "d").rename(out)
        tmp.rmdir()
    return str(out)


def teacher_sets(subset: str, learning_rate: float, epochs: int) -> list[str]:
    """``--set`` overrides for a search on ``subset`` whose teacher is trained here (SGD,
    standardised inputs)."""
    return [
        f"data.dataset=folder:{subset}",
        "data.preprocess=standardize",
        "teacher.optimizer=sgd",
        f"teacher.learning_rate={learning_rate}",
        f"teacher.epochs={epochs}",
    ]
