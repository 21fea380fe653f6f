"""Class predictions from logits: argmax, or a threshold at 0 for a 1-unit (sigmoid) head."""

from __future__ import annotations

import numpy as np


def predicted_class(logits):
    """Predicted labels (int64) of a batch of logits, as a tensor.

    A model with one output unit is a binary classifier whose output is the
    pre-sigmoid logit: class 1 when it is above 0.
    """
    import tensorflow as tf

    if logits.shape[-1] == 1:
        return tf.cast(logits[..., 0] > 0, tf.int64)
    return tf.argmax(logits, -1)


def predicted_class_np(logits: np.ndarray) -> np.ndarray:
    """``predicted_class`` for NumPy arrays."""
    logits = np.asarray(logits)
    if logits.shape[-1] == 1:
        return (logits[..., 0] > 0).astype(np.int64)
    return logits.argmax(-1)


def accuracy(model, dataset) -> float:
    """Top-1 accuracy of a logits model on a batched ``(x, y)`` dataset."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def hits(x, y):
        pred = predicted_class(model(x, training=False))
        return tf.reduce_sum(tf.cast(tf.equal(pred, tf.cast(y, tf.int64)), tf.int64))

    correct = total = 0
    for x, y in dataset:
        correct += int(hits(x, y))
        total += int(y.shape[0])
    return correct / max(total, 1)
