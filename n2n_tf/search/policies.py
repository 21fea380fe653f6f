"""The two N2N policies (Ashok et al., 2018, Sec. 3): LSTMs over the teacher's layers.

- ``RemovalPolicy``: a bidirectional LSTM reads every layer's features and gives
  a Bernoulli keep/remove action per layer (Stage 1).
- ``ShrinkPolicy``: an autoregressive LSTM (the previous action is fed into the
  next step) gives a Categorical width factor per layer (Stage 2).

Layers the stage may not change are "fixed": always kept (factor 1.0) and they
contribute no log-probability. Both read one layer per time step, so a policy
trained on one teacher runs unchanged on another (transfer). This is the only
module that imports tensorflow-probability. The features a policy reads come from
``search.features``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from n2n_tf.atomic import atomic_path
from n2n_tf.search.features import N_FEATURES, features

tfd = tfp.distributions
DEFAULT_FACTORS = tuple(round(0.1 * i, 1) for i in range(1, 11))


class _Policy(keras.Model):
    def save_policy(self, path: str | Path) -> Path:
        """Saves the weights alone (``.weights.h5``), atomically."""
        path = Path(path)
        if not path.name.endswith(".weights.h5"):
            raise ValueError(
                f"Policy weights are saved as a .weights.h5 file. Received: path='{path}'"
            )
        with atomic_path(path) as tmp:
            tmp = tmp.with_name("part.weights.h5")
            self.save_weights(tmp)
            tmp.rename(tmp.with_name("part.h5"))
        return path

    def load_policy(self, path: str | Path) -> None:
        """Loads weights saved by ``save_policy`` (any teacher, same policy settings)."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"Policy file not found. Received: policy='{path}'")
        self.build_once()
        try:
            self.load_weights(path)
        except Exception as err:
            raise ValueError(
                f"Cannot load policy `{path}`: it was saved by a policy with other settings "
                f"({type(err).__name__}). Received: policy='{path}'"
            ) from err


class RemovalPolicy(_Policy):
    """Bidirectional LSTM -> Bernoulli(keep) per layer.

    Args:
        hidden: LSTM units per direction (paper: 30).
        layers: stacked LSTM layers (paper: 2).
        init_keep_logit: initial bias of the keep logit (positive: start by
            keeping most layers, as removing many at once rarely builds a good student).
    """

    def __init__(self, hidden: int = 30, layers: int = 2, init_keep_logit: float = 1.0, **kw):
        super().__init__(**kw)
        self.rnns = [
            keras.layers.Bidirectional(keras.layers.LSTM(hidden, return_sequences=True))
            for _ in range(layers)
        ]
        self.head = keras.layers.Dense(
            1, bias_initializer=keras.initializers.Constant(init_keep_logit)
        )

    def build_once(self) -> None:
        if not self.built:
            self(np.zeros((1, 2, N_FEATURES), np.float32))

    def call(self, x):
        for rnn in self.rnns:
            x = rnn(x)
        return self.head(x)[..., 0]  # keep logits [batch, T]

    def distribution(self, feats: np.ndarray) -> tfd.Bernoulli:
        return tfd.Bernoulli(logits=self(feats)[0], dtype=tf.float32)

    def sample(self, feats: np.ndarray, free: Sequence[bool], seed) -> np.ndarray:
        """Keep (1) / remove (0) per layer; fixed layers are always 1."""
        keep = self.distribution(feats).sample(seed=seed).numpy()
        return np.where(np.asarray(free), keep, 1.0).astype(np.float32)

    def log_prob(self, feats: np.ndarray, actions, free: Sequence[bool]) -> tf.Tensor:
        """Sum of log-probabilities over the free layers (differentiable)."""
        dist = self.distribution(feats)
        mask = tf.constant(np.asarray(free, np.float32))
        return tf.reduce_sum(dist.log_prob(tf.constant(actions, tf.float32)) * mask)

    def entropy(self, feats: np.ndarray, free: Sequence[bool]) -> tf.Tensor:
        mask = tf.constant(np.asarray(free, np.float32))
        return tf.reduce_sum(self.distribution(feats).entropy() * mask)


class ShrinkPolicy(_Policy):
    """Autoregressive LSTM -> Categorical over width factors per layer.

    Args:
        factors: the width factors to choose from (default 0.1 ... 1.0).
        hidden: LSTM units (paper: 30).
        layers: stacked LSTM cells (paper: 2).
    """

    def __init__(
        self, factors: Sequence[float] = DEFAULT_FACTORS, hidden: int = 30, layers: int = 2, **kw
    ):
        super().__init__(**kw)
        self.factors = tuple(float(f) for f in factors)
        if not self.factors or any(not 0 < f <= 1 for f in self.factors):
            raise ValueError(f"Width factors must be in (0, 1]. Received: factors={factors}")
        self.full = int(np.argmax(self.factors))  # the index fixed layers take
        self.cells = [keras.layers.LSTMCell(hidden) for _ in range(layers)]
        self.head = keras.layers.Dense(len(self.factors))
        self.hidden = hidden

    def build_once(self) -> None:
        if not self.built:
            self.step_logits(np.zeros((1, N_FEATURES), np.float32), None)
            self.built = True

    def _initial(self):
        return [[tf.zeros((1, self.hidden)), tf.zeros((1, self.hidden))] for _ in self.cells]

    def step_logits(self, feat, prev, states=None):
        """One time step: features of a layer + one-hot of the previous action."""
        states = states or self._initial()
        onehot = tf.one_hot([prev if prev is not None else -1], len(self.factors))
        x = tf.concat([tf.constant(feat, tf.float32), onehot], axis=-1)
        new_states = []
        for cell, state in zip(self.cells, states, strict=True):
            x, state = cell(x, state)
            new_states.append(state)
        return self.head(x)[0], new_states

    def call(self, x):  # Keras needs a call; the policy is used step by step.
        return self.step_logits(x[0, :1], None)[0]

    def sample(self, feats: np.ndarray, free: Sequence[bool], seed) -> np.ndarray:
        """A factor index per layer; fixed layers get the factor 1.0."""
        seeds = tfp.random.split_seed(seed, n=max(len(free), 1))
        actions, prev, states = [], None, None
        for t, is_free in enumerate(free):
            logits, states = self.step_logits(feats[0, t : t + 1], prev, states)
            if is_free:
                action = int(tfd.Categorical(logits=logits).sample(seed=seeds[t]))
            else:
                action = self.full
            actions.append(action)
            prev = action
        return np.asarray(actions, np.int32)

    def _dists(self, feats, actions):
        prev, states, logits = None, None, []
        for t, action in enumerate(actions):
            step, states = self.step_logits(feats[0, t : t + 1], prev, states)
            logits.append(step)
            prev = int(action)
        return tfd.Categorical(logits=tf.stack(logits))

    def log_prob(self, feats: np.ndarray, actions, free: Sequence[bool]) -> tf.Tensor:
        dist = self._dists(feats, actions)
        mask = tf.constant(np.asarray(free, np.float32))
        return tf.reduce_sum(dist.log_prob(tf.constant(actions, tf.int32)) * mask)

    def entropy(self, feats: np.ndarray, free: Sequence[bool], actions=None) -> tf.Tensor:
        actions = actions if actions is not None else [self.full] * len(free)
        mask = tf.constant(np.asarray(free, np.float32))
        return tf.reduce_sum(self._dists(feats, actions).entropy() * mask)


__all__ = ["DEFAULT_FACTORS", "N_FEATURES", "RemovalPolicy", "ShrinkPolicy", "features"]
