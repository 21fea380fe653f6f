"""Fused multi-student distillation in a custom training loop under tf.distribute.

All students of one policy update are trained together: one pass over the data
feeds every batch, and the teacher's logits for it, to all of them. When the
training data is not augmented the teacher's logits are computed once per
example (``TeacherCache``) and reused by every student and every epoch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from n2n_tf.config import DistillConfig, RuntimeConfig
from n2n_tf.data import Datasets
from n2n_tf.distill.cache import TeacherCache
from n2n_tf.distill.losses import distillation_loss
from n2n_tf.runtime import make_strategy

logger = logging.getLogger(__name__)


@dataclass
class StudentResult:
    """How one student's distillation went.

    ``failed`` is True when its loss turned NaN/Inf; such a student stops
    training early and scores reward -1 in a search.
    """

    failed: bool = False
    reason: str = ""
    steps: int = 0
    loss: float = float("nan")
    val_accuracy: float | None = None
    seconds: float = 0.0


def _is_default(strategy: tf.distribute.Strategy) -> bool:
    return not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()


def to_mixed_precision(model: keras.Model) -> keras.Model:
    """A copy of ``model`` computing in float16 with float32 variables and output."""
    config = model.get_config()
    layers = config["layers"]
    for entry in layers[:-1]:
        if entry["class_name"] != "InputLayer":
            entry["config"]["dtype"] = "mixed_float16"
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


class Trainer:
    """Distils students from one teacher.

    Args:
        teacher: the teacher (outputs logits).
        config: the ``distill`` section.
        runtime: strategy, mixed precision and XLA settings.
        strategy: an explicit tf.distribute strategy (overrides ``runtime``).

    Example:
        >>> trainer = Trainer(teacher, DistillConfig(epochs=1))
        >>> results = trainer.fit([student_a, student_b], datasets)
    """

    def __init__(
        self,
        teacher: keras.Model,
        config: DistillConfig | None = None,
        runtime: RuntimeConfig | None = None,
        strategy: tf.distribute.Strategy | None = None,
    ):
        self.config = config or DistillConfig()
        self.runtime = runtime or RuntimeConfig()
        self.strategy = strategy or make_strategy(self.runtime.strategy)
        self.mixed = self.runtime.mixed_precision and bool(tf.config.list_logical_devices("GPU"))
        self.teacher = self._place(teacher)
        self.cache = TeacherCache(self._teacher_logits_fn(), self.config.cache)

    # ------------------------------------------------------------ placement
    def _place(self, model: keras.Model) -> keras.Model:
        """Returns a model whose variables live under this trainer's strategy."""
        if self.mixed:
            model = to_mixed_precision(model)
        if _is_default(self.strategy):
            return model
        with self.strategy.scope():
            clone = keras.models.clone_model(model)
            clone.set_weights(model.get_weights())
        return clone

    def _teacher_logits_fn(self) -> Callable:
        teacher = self.teacher

        @tf.function(jit_compile=self.runtime.jit_compile, reduce_retracing=True)
        def logits(x):
            return tf.cast(teacher(x, training=False), tf.float32)

        return logits

    def _optimizer(self, steps: int) -> keras.optimizers.Optimizer:
        cfg = self.config
        if cfg.optimizer == "sgd":
            schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, max(steps, 1))
            opt = keras.optimizers.SGD(
                schedule, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay or None
            )
        else:
            opt = keras.optimizers.AdamW(cfg.learning_rate, weight_decay=cfg.weight_decay)
        if self.mixed:
            opt = keras.optimizers.LossScaleOptimizer(opt)
        return opt

    # ------------------------------------------------------------ the step
    def _make_step(self, students, optimizers, spec):
        cfg, teacher, strategy = self.config, self.teacher, self.strategy

        def replica_step(x, y, t=None):
            if t is None:
                t = tf.cast(teacher(x, training=False), tf.float32)
            losses = []
            for student, opt in zip(students, optimizers, strict=True):
                with tf.GradientTape() as tape:
                    out = student(x, training=True)
                    per_example = distillation_loss(out, t, y, cfg.loss, cfg.temperature, cfg.alpha)
                    loss = tf.nn.compute_average_loss(per_example)
                    if student.losses:
                        loss += tf.nn.scale_regularization_loss(tf.add_n(student.losses))
                    scaled = opt.scale_loss(loss) if hasattr(opt, "scale_loss") else loss
                grads = tape.gradient(scaled, student.trainable_variables)
                opt.apply_gradients(zip(grads, student.trainable_variables, strict=True))
                losses.append(loss)
            return tf.stack(losses)

        # One trace for all batch sizes (the last batch is usually smaller).
        jit = self.runtime.jit_compile
        if _is_default(strategy):
            # One replica: no distribution machinery in the hot loop.
            @tf.function(jit_compile=jit, input_signature=[spec], autograph=False)
            def step(batch):
                return replica_step(*batch)

            return step

        @tf.function(jit_compile=jit, input_signature=[spec], autograph=False)
        def step(batch):
            per_replica = strategy.run(replica_step, args=batch)
            return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

        return step

    # ------------------------------------------------------------ public API
    def train_dataset(self, data: Datasets, seed: int = 0) -> tuple[tf.data.Dataset, bool]:
        """The training stream: ``(x, y, teacher_logits)`` when cached, else ``(x, y)``."""
        cached = self.cache.dataset(data, seed)
        if cached is not None:
            return cached, True
        return data.train, False

    def fit(
        self,
        students: Sequence[keras.Model],
        data: Datasets,
        epochs: int | None = None,
        steps: int | None = None,
        seed: int = 0,
        evaluate: bool = True,
        on_epoch: Callable[[int, np.ndarray], None] | None = None,
    ) -> list[StudentResult]:
        """Trains all ``students`` together by distillation from the teacher.

        The given student objects are trained in place (under a non-default
        strategy, their trained weights are copied back).

        Args:
            students: Keras models with the teacher's input and output shapes.
            data: the dataset splits (``train`` and ``val`` are used).
            epochs: passes over the training data (default: config).
            steps: a step budget instead of whole epochs (default: config; 0: off).
            seed: shuffle seed of the cached stream.
            evaluate: compute validation accuracy at the end.
            on_epoch: called with ``(epoch, mean losses)`` after every epoch.

        Returns:
            One ``StudentResult`` per student, in order.
        """
        epochs = self.config.epochs if epochs is None else epochs
        steps = steps if steps is not None else self.config.steps
        stream, _ = self.train_dataset(data, seed)
        n_batches = max(1, math.ceil(data.info.split_sizes["train"] / data.batch_size))
        total = steps if steps else epochs * n_batches
        if steps:
            epochs = math.ceil(steps / n_batches)
        placed = [self._place(s) for s in students]
        with self.strategy.scope():
            optimizers = [self._optimizer(total) for _ in placed]
            for opt, student in zip(optimizers, placed, strict=True):
                opt.build(student.trainable_variables)
        results = [StudentResult() for _ in placed]
        active = list(range(len(placed)))
        distributed = (
            stream
            if _is_default(self.strategy)
            else self.strategy.experimental_distribute_dataset(stream)
        )
        step_fn = self._make_step(placed, optimizers, distributed.element_spec)
        start = time.perf_counter()
        done = 0
        for epoch in range(epochs):
            sums, count = np.zeros(len(placed)), 0
            for batch in distributed:
                losses = step_fn(batch).numpy() / self.strategy.num_replicas_in_sync
                done += 1
                count += 1
                for i, value in zip(active, losses, strict=True):
                    results[i].steps += 1
                    results[i].loss = float(value)
                    sums[i] += value
                bad = [i for i, v in zip(active, losses, strict=True) if not np.isfinite(v)]
                if bad:
                    for i in bad:
                        results[i].failed = True
                        results[i].reason = f"loss became {results[i].loss} at step {done}"
                        logger.warning("Student %d failed: %s", i, results[i].reason)
                    active = [i for i in active if i not in bad]
                    if not active:
                        break
                    step_fn = self._make_step(
                        [placed[i] for i in active],
                        [optimizers[i] for i in active],
                        distributed.element_spec,
                    )
                if steps and done >= steps:
                    break
            if on_epoch is not None:
                on_epoch(epoch, sums / max(count, 1))
            logger.debug("epoch %d: mean losses %s", epoch + 1, np.round(sums / max(count, 1), 4))
            if not active or (steps and done >= steps):
                break
        seconds = time.perf_counter() - start
        for student, trained in zip(students, placed, strict=True):
            if trained is not student:
                student.set_weights(trained.get_weights())
        ok = [i for i in range(len(placed)) if not results[i].failed]
        if evaluate and ok:
            accuracies = self.evaluate([students[i] for i in ok], data.val)
            for i, acc in zip(ok, accuracies, strict=True):
                results[i].val_accuracy = acc
        for result in results:
            result.seconds = seconds
        return results

    def evaluate(self, models: Sequence[keras.Model], dataset: tf.data.Dataset) -> list[float]:
        """Top-1 accuracy of several models in one pass over a batched ``(x, y)`` dataset."""
        models = list(models)

        @tf.function(reduce_retracing=True)
        def correct(x, y):
            y = tf.cast(y, tf.int64)
            return tf.stack(
                [
                    tf.reduce_sum(
                        tf.cast(tf.equal(tf.argmax(m(x, training=False), -1), y), tf.int64)
                    )
                    for m in models
                ]
            )

        hits, total = np.zeros(len(models), dtype=np.int64), 0
        for x, y in dataset:
            hits += correct(x, y).numpy()
            total += int(tf.shape(y)[0])
        return [float(h) / max(total, 1) for h in hits]


def distill(
    teacher: keras.Model,
    student: keras.Model,
    data: Datasets,
    config: DistillConfig | None = None,
    runtime: RuntimeConfig | None = None,
    epochs: int | None = None,
) -> StudentResult:
    """Distils one student from a teacher (the CLI's ``distill`` and the final fine-tune)."""
    trainer = Trainer(teacher, config, runtime)
    return trainer.fit([student], data, epochs=epochs)[0]
