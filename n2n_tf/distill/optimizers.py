"""AdamW and SGD on TensorFlow's fused training kernels: one op per variable.

Keras 3 optimizers build every update from a dozen element-wise ops per
variable. For the fused trainer, which updates the variables of several
students in one graph, that made the optimizer the largest part of the graph:
about 60% of its nodes and of the time spent tracing it (measured on five
LeNet-5 students). These classes apply the same updates with the kernels
``tf.keras`` 2 used (``ResourceApplyAdam``, ``ResourceApplyKerasMomentum``), and
decoupled weight decay as one ``ResourceApplyGradientDescent`` with the
variable as its own delta.

The update rules are Keras 3's (``keras.optimizers.AdamW`` and ``SGD`` with
Nesterov momentum): tests check both give the same weights. Under a
``tf.distribute`` strategy, gradients are summed across replicas and every
replica applies the same update, as Keras optimizers do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import tensorflow as tf


class FusedOptimizer:
    """Common part: slots, the step counter and cross-replica gradient reduction.

    Args:
        learning_rate: a float, or ``fn(step) -> lr`` of the float32 step count.
        weight_decay: decoupled weight decay (``var -= lr * wd * var``), 0: off.
    """

    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate: float | Callable, weight_decay: float = 0.0):
        self.learning_rate = learning_rate
        self.weight_decay = float(weight_decay or 0.0)
        self.iterations: tf.Variable | None = None
        self._slots: dict = {}  # variable.ref() -> slot variables

    def build(self, variables: Sequence) -> None:
        """Creates the step counter and one zero slot per variable and slot name."""
        if self.iterations is None:
            self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        for var in variables:
            value = _tf_variable(var)
            self._slots[value.ref()] = tuple(
                tf.Variable(tf.zeros(value.shape, value.dtype), trainable=False, name=name)
                for name in self.slot_names
            )

    def lr(self) -> tf.Tensor:
        """The learning rate at the current step (float32)."""
        if callable(self.learning_rate):
            return tf.cast(self.learning_rate(tf.cast(self.iterations, tf.float32)), tf.float32)
        return tf.constant(self.learning_rate, tf.float32)

    def apply_gradients(self, grads_and_vars: Iterable) -> None:
        """Applies one update; in a replica context the gradients are summed across replicas.

        Raises:
            ValueError: when ``build`` was not called for a variable.
        """
        pairs = [(g, _tf_variable(v)) for g, v in grads_and_vars]
        if tf.distribute.has_strategy() and not tf.distribute.in_cross_replica_context():
            tf.distribute.get_replica_context().merge_call(self._distributed_apply, args=(pairs,))
        else:
            self._apply(pairs)

    def _distributed_apply(self, strategy, pairs) -> None:
        reduced = strategy.extended.batch_reduce_to(tf.distribute.ReduceOp.SUM, pairs)
        coefficients = self._coefficients()
        for grad, (_, var) in zip(reduced, pairs, strict=True):
            strategy.extended.update(
                var, self._update_one, args=(grad, coefficients, self._slots_of(var)), group=False
            )
        self.iterations.assign_add(1)

    def _apply(self, pairs) -> None:
        coefficients = self._coefficients()
        for grad, var in pairs:
            self._update_one(var, grad, coefficients, self._slots_of(var))
        self.iterations.assign_add(1)

    def _coefficients(self) -> dict[str, tf.Tensor]:
        """What every variable's update of this step shares, computed once per step."""
        lr = self.lr()
        return {"lr": lr, "decay": lr * self.weight_decay}

    def _slots_of(self, var) -> tuple[tf.Variable, ...]:
        try:
            return self._slots[var.ref()]
        except KeyError:
            raise ValueError(
                "The optimizer was not built for this variable; call build(variables) first. "
                f"Received: variable={var.name}"
            ) from None

    def _decay(self, var, coefficients) -> None:
        if self.weight_decay:
            tf.raw_ops.ResourceApplyGradientDescent(
                var=var.handle, alpha=coefficients["decay"], delta=var.read_value()
            )

    def _update_one(self, var, grad, coefficients, slots) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _update_one")


class FusedAdamW(FusedOptimizer):
    """Keras 3's ``AdamW`` update with ``ResourceApplyAdam`` (defaults as Keras)."""

    slot_names = ("m", "v")

    def __init__(
        self,
        learning_rate: float | Callable = 1e-3,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ):
        super().__init__(learning_rate, weight_decay)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _coefficients(self) -> dict[str, tf.Tensor]:
        step = tf.cast(self.iterations + 1, tf.float32)  # Keras' bias correction step
        return {
            **super()._coefficients(),
            "beta1_power": tf.pow(self.beta_1, step),
            "beta2_power": tf.pow(self.beta_2, step),
            "beta1": tf.constant(self.beta_1, tf.float32),
            "beta2": tf.constant(self.beta_2, tf.float32),
            "epsilon": tf.constant(self.epsilon, tf.float32),
        }

    def _update_one(self, var, grad, coefficients, slots) -> None:
        m, v = slots
        self._decay(var, coefficients)
        c = coefficients
        tf.raw_ops.ResourceApplyAdam(
            var=var.handle,
            m=m.handle,
            v=v.handle,
            beta1_power=c["beta1_power"],
            beta2_power=c["beta2_power"],
            lr=c["lr"],
            beta1=c["beta1"],
            beta2=c["beta2"],
            epsilon=c["epsilon"],
            grad=tf.cast(grad, var.dtype),
        )


class FusedSGD(FusedOptimizer):
    """Keras 3's ``SGD`` with (Nesterov) momentum, via ``ResourceApplyKerasMomentum``."""

    slot_names = ("momentum",)

    def __init__(
        self,
        learning_rate: float | Callable = 0.01,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        nesterov: bool = True,
    ):
        super().__init__(learning_rate, weight_decay)
        self.momentum, self.nesterov = momentum, nesterov

    def _coefficients(self) -> dict[str, tf.Tensor]:
        return {**super()._coefficients(), "momentum": tf.constant(self.momentum, tf.float32)}

    def _update_one(self, var, grad, coefficients, slots) -> None:
        (accum,) = slots
        self._decay(var, coefficients)
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=var.handle,
            accum=accum.handle,
            lr=coefficients["lr"],
            grad=tf.cast(grad, var.dtype),
            momentum=coefficients["momentum"],
            use_nesterov=self.nesterov,
        )


def _tf_variable(var):
    """The ``tf.Variable`` behind a Keras 3 variable (a ``tf.Variable`` is returned as is)."""
    return var if isinstance(var, tf.Variable) else var.value
