"""Plain descriptions of a loaded dataset (no TensorFlow objects)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset.

    Attributes:
        name: the dataset as the user named it (``cifar10``, ``folder:...``).
        input_shape: ``(height, width, channels)`` of one example.
        num_classes: number of labels.
        class_names: one name per label index.
        split_sizes: examples per split (``train``, ``val``, ``test``).
        mean: per-channel mean of the training pixels, on the 0..1 scale.
        std: per-channel standard deviation, on the 0..1 scale.
        augment: the augmentation applied to the training split.
        preprocess: the input preprocessing of the pipelines (``data.preprocess``).
    """

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    class_names: tuple[str, ...]
    split_sizes: dict[str, int] = field(default_factory=dict)
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    augment: str = "none"
    preprocess: str = "standardize"
