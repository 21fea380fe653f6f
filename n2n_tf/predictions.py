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


def accuracies(models, dataset) -> list[float]:
    """Top-1 accuracy of several logits models in one pass over a batched ``(x, y)``
    dataset (one traced function computes every model's hits on a batch)."""
    import tensorflow as tf

    models = list(models)

    @tf.function(reduce_retracing=True)
    def hits(x, y):
        y = tf.cast(y, tf.int64)
        return tf.stack(
            [
                tf.reduce_sum(tf.cast(tf.equal(predicted_class(m(x, training=False)), y), tf.int64))
                for m in models
            ]
        )

    correct, total = np.zeros(len(models), dtype=np.int64), 0
    for x, y in dataset:
        correct += hits(x, y).numpy()
        total += int(tf.shape(y)[0])
    return [float(c) / max(total, 1) for c in correct]


def accuracy(model, dataset) -> float:
    """Top-1 accuracy of a logits model on a batched ``(x, y)`` dataset."""
    return accuracies([model], dataset)[0]
