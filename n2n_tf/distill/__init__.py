"""Distillation: losses and the fused multi-student trainer under tf.distribute."""

from n2n_tf.distill.cache import TeacherCache
from n2n_tf.distill.losses import cross_entropy, distillation_loss, hinton_kd, mse_logits
from n2n_tf.distill.trainer import StudentResult, Trainer, to_mixed_precision

__all__ = [
    "StudentResult",
    "TeacherCache",
    "Trainer",
    "cross_entropy",
    "distillation_loss",
    "hinton_kd",
    "mse_logits",
    "to_mixed_precision",
]
