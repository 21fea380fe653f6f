"""Distillation losses (pure functions of logits); per-example values, not reduced."""

from __future__ import annotations

import tensorflow as tf


def mse_logits(student: tf.Tensor, teacher: tf.Tensor) -> tf.Tensor:
    """L2 between student and teacher logits, the N2N paper's loss (mean over classes)."""
    return tf.reduce_mean(tf.square(student - teacher), axis=-1)


def hinton_kd(student: tf.Tensor, teacher: tf.Tensor, temperature: float = 4.0) -> tf.Tensor:
    """KL(softmax(t/T) || softmax(s/T)) * T^2 (Hinton et al., 2015)."""
    t = tf.nn.softmax(teacher / temperature, axis=-1)
    log_t = tf.nn.log_softmax(teacher / temperature, axis=-1)
    log_s = tf.nn.log_softmax(student / temperature, axis=-1)
    return tf.reduce_sum(t * (log_t - log_s), axis=-1) * temperature**2


def cross_entropy(student: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Sparse categorical cross-entropy on logits."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=student
    )


def distillation_loss(
    student: tf.Tensor,
    teacher: tf.Tensor,
    labels: tf.Tensor,
    kind: str = "mse",
    temperature: float = 4.0,
    alpha: float = 0.0,
) -> tf.Tensor:
    """``(1 - alpha) * distill + alpha * CE``, per example.

    Args:
        student: student logits ``[batch, classes]``.
        teacher: teacher logits, same shape.
        labels: integer labels ``[batch]``.
        kind: ``mse`` or ``kd``.
        temperature: for ``kd``.
        alpha: weight of the label cross-entropy.

    Raises:
        ValueError: for an unknown ``kind``.
    """
    student = tf.cast(student, tf.float32)
    teacher = tf.cast(teacher, tf.float32)
    if kind == "mse":
        loss = mse_logits(student, teacher)
    elif kind == "kd":
        loss = hinton_kd(student, teacher, temperature)
    else:
        raise ValueError(f"Unknown distillation loss. Expected mse or kd. Received: kind={kind!r}")
    if alpha:
        loss = (1.0 - alpha) * loss + alpha * cross_entropy(student, labels)
    return loss
