"""REINFORCE with a moving-average baseline (Williams, 1992; N2N Sec. 3.4).

grad J = (1/m) sum_k sum_t grad log pi(a_t | h_t) (R_k - b), each rollout with
its own advantage R_k - b (the reference code used the batch mean; a bug).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf


class Baseline:
    """Exponential moving average of rewards; starts at the first batch's mean."""

    def __init__(self, decay: float = 0.8, value: float | None = None):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"Baseline decay must be in [0, 1). Received: decay={decay}")
        self.decay = decay
        self.value = value

    def advantages(self, rewards: Sequence[float]) -> np.ndarray:
        """R_k - b with the baseline before this batch (first batch: its own mean)."""
        rewards = np.asarray(rewards, np.float64)
        base = rewards.mean() if self.value is None else self.value
        return rewards - base

    def update(self, rewards: Sequence[float]) -> float:
        mean = float(np.mean(rewards))
        self.value = (
            mean if self.value is None else self.decay * self.value + (1 - self.decay) * mean
        )
        return self.value


def reinforce_update(
    policy,
    optimizer: keras.optimizers.Optimizer | None,
    log_probs: Callable[[], tuple[tf.Tensor, tf.Tensor | None]],
    advantages: Sequence[float],
    entropy_weight: float = 0.0,
) -> float:
    """One policy-gradient step; returns the surrogate loss.

    loss = -(1/m) sum_k [log pi(a_k) (R_k - b) + entropy_weight * H_k]

    Args:
        policy: the policy whose trainable weights are updated (none: no step,
            as for ``RandomPolicy``).
        optimizer: its optimizer (Adam).
        log_probs: ``() -> (log pi(a_k) [m], H_k [m] or None)``, differentiable:
            each rollout's log-probability and the policy's entropy along it
            (``policy.log_probs(feats, actions, free)``).
        advantages: ``R_k - b`` per rollout.
        entropy_weight: weight of the entropy bonus (keeps the policy exploring).
    """
    variables = list(policy.trainable_variables)
    if not variables:
        return 0.0
    adv = tf.constant(np.asarray(advantages, np.float32))
    with tf.GradientTape() as tape:
        log_prob, entropy = log_probs()
        loss = -tf.reduce_mean(log_prob * adv)
        if entropy_weight and entropy is not None:
            loss -= entropy_weight * tf.reduce_mean(entropy)
    grads = tape.gradient(loss, variables)
    pairs = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
    optimizer.apply_gradients(pairs)
    return float(loss)
