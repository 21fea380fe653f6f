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
    policy: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    log_prob: Callable[[int], tf.Tensor],
    advantages: Sequence[float],
    entropy: Callable[[], tf.Tensor] | None = None,
    entropy_weight: float = 0.0,
) -> float:
    """One policy-gradient step; returns the surrogate loss.

    Args:
        policy: the policy whose trainable weights are updated.
        optimizer: its optimizer (Adam).
        log_prob: ``k -> log pi(actions of rollout k)`` (differentiable).
        advantages: ``R_k - b`` per rollout.
        entropy: optional entropy of the policy (bonus, weight ``entropy_weight``).
    """
    with tf.GradientTape() as tape:
        terms = [log_prob(k) * float(a) for k, a in enumerate(advantages)]
        loss = -tf.add_n(terms) / len(terms)
        if entropy is not None and entropy_weight:
            loss -= entropy_weight * entropy()
    grads = tape.gradient(loss, policy.trainable_variables)
    pairs = [
        (g, v) for g, v in zip(grads, policy.trainable_variables, strict=True) if g is not None
    ]
    optimizer.apply_gradients(pairs)
    return float(loss)
