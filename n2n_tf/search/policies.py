"""The two N2N policies (Ashok et al., 2018, Sec. 3): LSTMs over the teacher's layers.

- ``RemovalPolicy``: a bidirectional LSTM reads every layer's features and gives
  a Bernoulli keep/remove action per layer (Stage 1).
- ``ShrinkPolicy``: an autoregressive LSTM (the previous action is fed into the
  next step) gives a Categorical width factor per layer (Stage 2).
- ``RandomPolicy``: uniform actions with the same interface and no weights:
  random search, run by the same loop as the two policies above.

Layers the stage may not change are "fixed": always kept (factor 1.0) and they
contribute no log-probability. Both read one layer per time step, so a policy
trained on one teacher runs unchanged on another (transfer). This is the only
module that imports tensorflow-probability. The features a policy reads come from
``search.features``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from n2n_tf.atomic import atomic_path
from n2n_tf.search.features import FEATURE_NAMES, FEATURES_VERSION, N_FEATURES, features
from n2n_tf.types import DEFAULT_FACTORS

tfd = tfp.distributions


class _Policy(keras.Model):
    settings: dict = {}  # what a saved policy must share with the one loading it

    def describe(self) -> dict:
        """The policy's class, the features it reads and its settings (``policy.json``)."""
        return {
            "class": type(self).__name__,
            "features": FEATURES_VERSION,
            "feature_names": list(FEATURE_NAMES),
            **self.settings,
        }

    def save_policy(self, path: str | Path, source: dict | None = None) -> Path:
        """Saves the weights alone (``.weights.h5``), atomically, and beside them what the
        policy is (``describe``) and where it was trained (``source``), ``<stage>.json``."""
        path = Path(path)
        if not path.name.endswith(".weights.h5"):
            raise ValueError(
                f"Policy weights are saved as a .weights.h5 file. Received: path='{path}'"
            )
        with atomic_path(path) as tmp:
            tmp = tmp.with_name("part.weights.h5")
            self.save_weights(tmp)
            tmp.rename(tmp.with_name("part.h5"))
        with atomic_path(description_path(path)) as tmp:
            tmp.write_text(json.dumps({**self.describe(), "source": source or {}}, indent=1))
        return path

    def load_policy(self, path: str | Path) -> dict:
        """Loads weights saved by ``save_policy`` (any teacher, same policy and features);
        returns where they were trained (the ``source`` saved with them).

        Raises:
            ValueError: in one line, for a missing file, a policy saved without its
                description (before feature version 2) or one that differs in its
                class, features or settings (saying what differs).
        """
        there = self.check_description(path)
        self.build_once()
        try:
            self.load_weights(path)
        except Exception as err:
            raise ValueError(
                f"Cannot load policy `{path}`: it was saved by a policy with other settings "
                f"({type(err).__name__}). Received: policy='{path}'"
            ) from err
        return dict(there.get("source") or {})

    def check_description(self, path: str | Path) -> dict:
        """The description saved beside the policy file ``path`` when it fits this policy;
        else the ValueError ``load_policy`` raises (nothing is loaded)."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"Policy file not found. Received: policy='{path}'")
        saved = description_path(path)
        if not saved.is_file():
            raise ValueError(
                f"Policy `{path}` has no {saved.name} beside it: it was saved by an n2n-tf "
                f"before feature version {FEATURES_VERSION}, whose layer features meant "
                f"something else; search again to train one. Received: policy='{path}'"
            )
        try:
            there = json.loads(saved.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"Cannot read `{saved}` ({err}). Received: policy='{path}'") from None
        here = self.describe()
        differs = [
            f"{key} {there.get(key)!r} there, {value!r} here"
            for key, value in here.items()
            if there.get(key) != value
        ]
        if differs:
            raise ValueError(
                f"Policy `{path}` does not fit this run: {'; '.join(differs)}. "
                f"Received: policy='{path}'"
            )
        return there


def description_path(path: str | Path) -> Path:
    """``<stage>.json`` beside ``<stage>.weights.h5``: what the policy is and where from."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".weights.h5") + ".json")


def _mask(free: Sequence[bool]) -> tf.Tensor:
    return tf.constant(np.asarray(free, np.float32))


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
        self.settings = {"hidden": int(hidden), "layers": int(layers)}
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

    def logits(self, feats: np.ndarray) -> tf.Tensor:
        """Keep logits ``[T]``, through a ``tf.function`` (eager LSTMs are ~40x slower)."""
        if "_compiled" not in self.__dict__:
            self.__dict__["_compiled"] = tf.function(self.call, reduce_retracing=True)
        return self.__dict__["_compiled"](tf.constant(feats, tf.float32))[0]

    def distribution(self, feats: np.ndarray) -> tfd.Bernoulli:
        return tfd.Bernoulli(logits=self.logits(feats), dtype=tf.float32)

    def sample(self, feats: np.ndarray, free: Sequence[bool], seed, n: int | None = None):
        """Keep (1) / remove (0) per layer, ``[T]`` (``[n, T]`` for ``n`` rollouts);
        fixed layers are always 1."""
        keep = self.distribution(feats).sample(1 if n is None else n, seed=seed).numpy()
        keep = np.where(np.asarray(free), keep, 1.0).astype(np.float32)
        return keep[0] if n is None else keep

    def log_prob(self, feats: np.ndarray, actions, free: Sequence[bool]) -> tf.Tensor:
        """Sum of log-probabilities over the free layers (differentiable)."""
        return self.log_probs(feats, [actions], free)[0][0]

    def entropy(self, feats: np.ndarray, free: Sequence[bool], actions=None) -> tf.Tensor:
        """Entropy summed over the free layers (``actions`` unused: the layers are independent)."""
        return tf.reduce_sum(self.distribution(feats).entropy() * _mask(free))

    def log_probs(self, feats: np.ndarray, actions, free: Sequence[bool]):
        """``(log pi(a_k) [m], entropy [m])`` for ``m`` rollouts, from one LSTM pass."""
        dist = self.distribution(feats)
        mask = _mask(free)
        actions = tf.constant(np.asarray(actions, np.float32))
        log_probs = tf.reduce_sum(dist.log_prob(actions) * mask, axis=-1)
        entropy = tf.reduce_sum(dist.entropy() * mask)
        return log_probs, tf.fill(tf.shape(log_probs), entropy)


class ShrinkPolicy(_Policy):
    """Autoregressive LSTM -> Categorical over width factors per layer.

    Args:
        factors: the width factors to choose from (default 0.1 ... 1.0).
        hidden: LSTM units (paper: 30).
        layers: stacked LSTM cells (paper: 2).
        prior: the initial probability of each choice (None: uniform).
        fixed: the choice of a layer the stage may not change (None: the widest factor;
            given, the choices need not be widths in (0, 1]).

    The rollouts of an update are unrolled together (a batch), in one
    ``tf.function`` per sequence length.
    """

    def __init__(
        self,
        factors: Sequence[float] = DEFAULT_FACTORS,
        hidden: int = 30,
        layers: int = 2,
        prior: Sequence[float] | None = None,
        fixed: int | None = None,
        **kw,
    ):
        super().__init__(**kw)
        self.factors = tuple(float(f) for f in factors)
        if fixed is None and (not self.factors or any(not 0 < f <= 1 for f in self.factors)):
            raise ValueError(f"Width factors must be in (0, 1]. Received: factors={factors}")
        if fixed is not None and not (self.factors and 0 <= fixed < len(self.factors)):
            raise ValueError(
                f"The fixed choice is an index of the choices. Received: fixed={fixed} for "
                f"{len(self.factors)} choices"
            )
        # the index fixed layers take: full width, or ``fixed`` for choices that are not
        # widths (the multipliers of ``stages.OffsetsStage``, where 1.0 is "unchanged")
        self.full = int(np.argmax(self.factors)) if fixed is None else int(fixed)
        self.cells = [keras.layers.LSTMCell(hidden) for _ in range(layers)]
        bias = "zeros"
        if prior is not None:  # the initial probability of each factor (the head's bias)
            p = np.asarray(prior, np.float64)
            if p.shape != (len(self.factors),) or not (p > 0).all():
                raise ValueError(
                    f"A width prior gives each factor a positive probability. Received: "
                    f"prior={list(prior)} for factors={list(self.factors)}"
                )
            bias = keras.initializers.Constant(np.log(p / p.sum()))
        self.head = keras.layers.Dense(len(self.factors), bias_initializer=bias)
        self.hidden = hidden
        self.settings = {
            "hidden": int(hidden),
            "layers": int(layers),
            "factors": [float(f) for f in self.factors],
        }

    def build_once(self) -> None:
        if not self.built:  # eagerly: the cells create their weights outside any tf.function
            self._step(tf.zeros((1, N_FEATURES)), tf.constant([-1]), self._initial(1))
            self.built = True

    def _initial(self, batch: int = 1):
        zeros = tf.zeros((batch, self.hidden))
        return [[zeros, zeros] for _ in self.cells]

    def _step(self, feat, prev, states):
        """feat ``[B, F]``, prev ``[B]`` (-1: none) -> logits ``[B, K]``, states."""
        x = tf.concat([feat, tf.one_hot(prev, len(self.factors))], axis=-1)
        new_states = []
        for cell, state in zip(self.cells, states, strict=True):
            x, state = cell(x, state)
            new_states.append(list(state))
        return self.head(x), new_states

    def step_logits(self, feat, prev, states=None):
        """One time step of one rollout: features ``[1, F]`` of a layer + one-hot of
        the previous action (None: zeros) -> logits ``[K]``, states."""
        logits, states = self._step(
            tf.constant(feat, tf.float32),
            tf.constant([-1 if prev is None else int(prev)], tf.int32),
            states or self._initial(1),
        )
        return logits[0], states

    def call(self, x):  # Keras needs a call; the policy is used step by step.
        return self.step_logits(x[0, :1], None)[0]

    def _unroll(self, feats, free, actions, seeds, sample: bool):
        """Runs ``m`` rollouts over the ``T`` layers of ``feats [T, F]``: sampled with
        ``seeds [T, 2]`` (``actions`` only gives ``m``) or along ``actions [m, T]``.
        Returns ``(actions [m, T], logits [m, T, K])``; fixed layers take factor 1.0."""
        steps, m = tf.shape(feats)[0], tf.shape(actions)[0]
        states = [[tf.zeros((m, self.hidden)), tf.zeros((m, self.hidden))] for _ in self.cells]
        prev = tf.fill([m], -1)
        taken = tf.TensorArray(tf.int32, size=steps)
        logits = tf.TensorArray(tf.float32, size=steps)
        for t in tf.range(steps):
            step, states = self._step(tf.repeat(feats[t][None], m, axis=0), prev, states)
            if sample:
                drawn = tf.random.stateless_categorical(step, 1, seeds[t], dtype=tf.int32)[:, 0]
                action = tf.where(free[t], drawn, tf.fill([m], self.full))
            else:
                action = actions[:, t]
            taken = taken.write(t, action)
            logits = logits.write(t, step)
            prev = action
        return tf.transpose(taken.stack()), tf.transpose(logits.stack(), [1, 0, 2])

    def _compiled(self, sample: bool):
        """The unroll as a ``tf.function``: one trace serves every sequence length."""
        cache = self.__dict__.setdefault("_unrolls", {})
        if sample not in cache:
            cache[sample] = tf.function(
                lambda feats, free, actions, seeds: self._unroll(
                    feats, free, actions, seeds, sample
                ),
                input_signature=[
                    tf.TensorSpec([None, N_FEATURES], tf.float32),
                    tf.TensorSpec([None], tf.bool),
                    tf.TensorSpec([None, None], tf.int32),
                    tf.TensorSpec([None, 2], tf.int32),
                ],
            )
        return cache[sample]

    def _run(self, feats, free, actions, seeds, sample):
        return self._compiled(sample)(
            tf.constant(np.asarray(feats, np.float32)[0]),
            tf.constant(np.asarray(free, bool)),
            tf.constant(np.asarray(actions, np.int32)),
            tf.cast(seeds, tf.int32),
        )

    def sample(self, feats: np.ndarray, free: Sequence[bool], seed, n: int | None = None):
        """A factor index per layer, ``[T]`` (``[n, T]`` for ``n`` rollouts); fixed
        layers get the factor 1.0."""
        m, steps = 1 if n is None else n, len(free)
        seeds = tfp.random.split_seed(seed, n=max(steps, 1))  # [T, 2]: one per step
        shape = np.zeros((m, steps), np.int32)
        actions, _ = self._run(feats, free, shape, seeds, sample=True)
        actions = actions.numpy().astype(np.int32)
        return actions[0] if n is None else actions

    def log_probs(self, feats: np.ndarray, actions, free: Sequence[bool]):
        """``(log pi(a_k) [m], entropy along a_k [m])`` for ``m`` rollouts, one batched unroll."""
        actions = np.asarray(actions, np.int32)
        _, logits = self._run(feats, free, actions, tf.zeros((len(free), 2), tf.int32), False)
        dist = tfd.Categorical(logits=logits)
        mask = _mask(free)
        return (
            tf.reduce_sum(dist.log_prob(actions) * mask, axis=-1),
            tf.reduce_sum(dist.entropy() * mask, axis=-1),
        )

    def log_prob(self, feats: np.ndarray, actions, free: Sequence[bool]) -> tf.Tensor:
        return self.log_probs(feats, [actions], free)[0][0]

    def entropy(self, feats: np.ndarray, free: Sequence[bool], actions=None) -> tf.Tensor:
        """Entropy of each step's distribution along ``actions`` (default: all factors 1.0)."""
        actions = actions if actions is not None else [self.full] * len(free)
        return self.log_probs(feats, [actions], free)[1][0]


class RandomPolicy:
    """Uniform random actions with the policies' interface and no weights: random search.

    The search loop runs it exactly like ``RemovalPolicy`` / ``ShrinkPolicy``
    (same rollouts, same history); its update is a no-op.

    Args:
        actions: how many actions a free layer chooses from (removal: 2, keep
            or remove; shrinkage: the number of width factors).
        fixed: the action of a fixed layer (removal: 1, keep; shrinkage: the
            index of the factor 1.0).
        dtype: the actions' dtype (removal: float32, shrinkage: int32).
    """

    trainable_variables: list = []

    def __init__(self, actions: int, fixed: int, dtype: Any = np.float32):
        if actions < 1 or not 0 <= fixed < actions:
            raise ValueError(
                "A random policy needs at least one action and a fixed action among them. "
                f"Received: actions={actions}, fixed={fixed}"
            )
        self.actions, self.fixed, self.dtype = actions, fixed, dtype

    @classmethod
    def removal(cls) -> RandomPolicy:
        return cls(2, 1, np.float32)

    @classmethod
    def shrink(cls, factors: Sequence[float] = DEFAULT_FACTORS) -> RandomPolicy:
        return cls(len(factors), int(np.argmax(factors)), np.int32)

    def build_once(self) -> None:
        """Nothing to build (the interface of the LSTM policies)."""

    def sample(self, feats: np.ndarray, free: Sequence[bool], seed, n: int | None = None):
        rng = np.random.default_rng([int(s) for s in np.ravel(seed)])
        drawn = rng.integers(0, self.actions, size=(1 if n is None else n, len(free)))
        actions = np.where(np.asarray(free, bool), drawn, self.fixed).astype(self.dtype)
        return actions[0] if n is None else actions

    def entropy(self, feats: np.ndarray, free: Sequence[bool], actions=None) -> tf.Tensor:
        return tf.constant(float(np.sum(free)) * np.log(self.actions), tf.float32)

    def log_probs(self, feats: np.ndarray, actions, free: Sequence[bool]):
        m = len(actions)
        return tf.fill([m], -self.entropy(feats, free)), tf.fill([m], self.entropy(feats, free))


__all__ = [
    "DEFAULT_FACTORS",
    "N_FEATURES",
    "RandomPolicy",
    "RemovalPolicy",
    "ShrinkPolicy",
    "features",
]
