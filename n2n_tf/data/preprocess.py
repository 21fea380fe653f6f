"""Input preprocessing as the teacher's author did it.

A teacher only works on inputs scaled the way it was trained. ``Preprocessing``
maps raw pixels (float32, 0..255) to model inputs for one of these modes:

- ``raw``: the pixels as they are (teachers with their own Rescaling/Normalization);
- ``unit``: ``x / 255``;
- ``symmetric``: ``x / 127.5 - 1`` (``[-1, 1]``);
- ``standardize``: ``(x / 255 - mean) / std`` per channel, from the training split;
- ``pixel_mean``: ``x / 255`` minus the training split's per-pixel mean image;
- ``caffe``: keras.applications' caffe mode (RGB -> BGR, minus the ImageNet means);
- ``torch``: keras.applications' torch mode (``x / 255``, ImageNet mean/std).

``auto`` (n2n-tf's default) is resolved by scoring the teacher under every
candidate (``jobs.preamble``). The same mapping exists as Keras layers
(``Preprocessing.layers``) so exported students take raw pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MODES = ("raw", "unit", "symmetric", "standardize", "pixel_mean", "caffe", "torch")
AUTO = "auto"
CHOICES = (AUTO, *MODES)
# On a tie in ``auto``, the earlier mode wins.
PREFERENCE = ("standardize", "unit", "symmetric", "raw", "pixel_mean", "torch", "caffe")
RGB_ONLY = ("caffe", "torch")
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)


def candidates(channels: int) -> tuple[str, ...]:
    """The modes that apply to images with ``channels`` channels, in tie-break order."""
    return tuple(m for m in PREFERENCE if channels == 3 or m not in RGB_ONLY)


@dataclass(frozen=True)
class Preprocessing:
    """One preprocessing mode with the statistics it needs.

    Attributes:
        mode: one of ``MODES``.
        mean: per-channel mean of the training pixels, on the 0..1 scale.
        std: per-channel standard deviation, on the 0..1 scale.
        pixel_mean: the training split's mean image (H, W, C), on the 0..1 scale.
    """

    mode: str = "standardize"
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    pixel_mean: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(
                f"Unknown preprocessing. Supported: {', '.join(CHOICES)}. "
                f"Received: preprocess={self.mode!r}"
            )
        channels = len(self.mean)
        if self.mode in RGB_ONLY and channels not in (0, 3):
            raise ValueError(
                f"Preprocessing `{self.mode}` is for RGB images; these have {channels} "
                f"channel(s). Received: preprocess={self.mode!r}"
            )
        if self.mode == "pixel_mean" and self.pixel_mean is None:
            raise RuntimeError("Internal error: pixel_mean preprocessing without a mean image")

    def _affine(self):
        """``(scale, offset)`` per channel such that ``y = x * scale + offset``, or None."""
        channels = len(self.mean) or 1
        ones = np.ones(channels, np.float32)
        if self.mode == "raw":
            return ones, 0 * ones
        if self.mode == "unit":
            return ones / 255.0, 0 * ones
        if self.mode == "symmetric":
            return ones / 127.5, -ones
        if self.mode == "standardize":
            std = np.asarray(self.std, np.float32)
            return 1.0 / (255.0 * std), -np.asarray(self.mean, np.float32) / std
        if self.mode == "torch":
            std = np.asarray(TORCH_STD, np.float32)
            return 1.0 / (255.0 * std), -np.asarray(TORCH_MEAN, np.float32) / std
        return None

    def __call__(self, x):
        """Maps a float32 tensor of raw pixels (0..255, channels last) to model inputs.

        Written as divisions (no multiply-add a compiler could fuse), so the
        pipeline gives bit-identical inputs under every tf.distribute strategy.
        """
        import tensorflow as tf

        def const(values):
            return tf.constant(values, tf.float32)

        mode = self.mode
        if mode == "raw":
            return x
        if mode == "unit":
            return x / 255.0
        if mode == "symmetric":
            return x / 127.5 - 1.0
        if mode == "standardize":
            return (x / 255.0 - const(self.mean)) / const(self.std)
        if mode == "torch":
            return (x / 255.0 - const(TORCH_MEAN)) / const(TORCH_STD)
        if mode == "pixel_mean":
            return x / 255.0 - const(self.pixel_mean)
        return x[..., ::-1] - const(CAFFE_BGR_MEAN)  # caffe

    def layers(self) -> list:
        """Built-in Keras layers doing the same mapping (for exports that take raw pixels)."""
        import keras

        name = f"n2n_preprocess_{self.mode}"
        affine = self._affine()
        if affine is not None:
            scale, offset = affine
            if np.all(scale == scale[0]) and np.all(offset == offset[0]):
                return [keras.layers.Rescaling(float(scale[0]), float(offset[0]), name=name)]
            # y = (x - m) / s with m = -offset / scale and s = 1 / scale.
            return [
                keras.layers.Normalization(
                    mean=(-offset / scale).tolist(), variance=(1.0 / scale**2).tolist(), name=name
                )
            ]
        if self.mode == "pixel_mean":
            mean = np.asarray(self.pixel_mean, np.float32) * 255.0
            return [
                keras.layers.Normalization(
                    axis=(-3, -2, -1),
                    mean=mean,
                    variance=np.full_like(mean, 255.0**2),
                    name=name,
                )
            ]
        # caffe: a fixed channel permutation (RGB -> BGR), then the means subtracted.
        swap = np.eye(3, dtype=np.float32)[::-1]
        layer = keras.layers.Dense(3, trainable=False, name=name)
        layer.build((None, 3))
        layer.set_weights([swap, -np.asarray(CAFFE_BGR_MEAN, np.float32)])
        return [layer]

    def to_dict(self) -> dict:
        return {"mode": self.mode, "mean": list(self.mean), "std": list(self.std)}
