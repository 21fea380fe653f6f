"""Fused multi-student distillation in a custom training loop under tf.distribute.

All students of one policy update are trained together: one pass over the data
feeds every batch, and the teacher's logits for it, to all of them. The
teacher's logits are computed once per training example (without augmentation)
or once per cached augmented view (``distill.teacher_views``, crop+flip) by
``TeacherCache`` and reused by every student, epoch and update; with
``teacher_views=0`` they are computed once per batch.
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
from n2n_tf.distill.optimizers import FusedAdamW, FusedSGD
from n2n_tf.interrupt import check as check_interrupt
from n2n_tf.predictions import accuracies
from n2n_tf.progress import SILENT, Progress
from n2n_tf.runtime import make_strategy, use_mixed_precision, use_xla

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
        mixed_precision: None: ``runtime.mixed_precision`` (auto: on with a GPU;
            asked for without one: off); True/False: forced, also on a CPU (slow
            there; for tests).
        progress: told about every training pass (``start``/``advance``/``stop``);
            the attribute ``progress`` may be replaced between passes.

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
        mixed_precision: bool | None = None,
        progress: Progress | None = None,
    ):
        self.progress = progress or SILENT
        self.config = config or DistillConfig()
        self.runtime = runtime or RuntimeConfig()
        self.strategy = strategy or make_strategy(self.runtime.strategy)
        gpu = bool(tf.config.list_logical_devices("GPU"))
        if mixed_precision is None:
            mixed_precision = use_mixed_precision(self.runtime.mixed_precision, gpu) and gpu
        self.mixed = mixed_precision
        self.jit = use_xla(self.runtime.jit_compile, gpu)
        self.teacher = self._place(teacher)
        self.cache = TeacherCache(
            self._teacher_logits_fn(),
            self.config.cache,
            views=self.config.teacher_views,
            seed=self.runtime.seed,
        )

    def close(self) -> None:
        """Frees the teacher-logit cache and removes its files (disk caches)."""
        self.cache.close()

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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

        @tf.function(jit_compile=self.jit, reduce_retracing=True)
        def logits(x):
            return tf.cast(teacher(x, training=False), tf.float32)

        return logits

    def _optimizer(self, steps: int):
        """AdamW or SGD for one student; fused kernels, or Keras' with loss scaling when mixed."""
        cfg = self.config
        lr = cfg.learning_rate
        if cfg.optimizer == "sgd":
            lr = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, max(steps, 1))
        if not self.mixed:
            if cfg.optimizer == "sgd":
                return FusedSGD(lr, weight_decay=cfg.weight_decay, momentum=0.9, nesterov=True)
            return FusedAdamW(lr, weight_decay=cfg.weight_decay)
        if cfg.optimizer == "sgd":
            opt = keras.optimizers.SGD(
                lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay or None
            )
        else:
            opt = keras.optimizers.AdamW(lr, weight_decay=cfg.weight_decay)
        return keras.optimizers.LossScaleOptimizer(opt)

    # ------------------------------------------------------------ the step
    def _make_loop(self, students, optimizers):
        """Returns ``run(iterator, n) -> losses [n, students]``: ``n`` fused steps in one call.

        Every step feeds one batch (and its teacher logits, cached or computed
        once) to all students. The loop runs inside the ``tf.function``, so
        Python is entered once per ``n`` steps, not once per step.
        """
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

        if self.jit:
            # XLA compiles the step; the loop around it reads the iterator, which XLA cannot.
            replica_step = tf.function(replica_step, jit_compile=True, reduce_retracing=True)

        if _is_default(strategy):
            one_step = replica_step  # one replica: no distribution machinery in the hot loop
        else:

            def one_step(*batch):
                per_replica = strategy.run(replica_step, args=batch)
                return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

        n_students = len(students)

        # One trace per fit: iterators of the same stream share a type, and n is a tensor.
        @tf.function(autograph=False)
        def run(iterator, n):
            def body(i, losses):
                return i + 1, losses.write(i, one_step(*iterator.get_next()))

            losses = tf.TensorArray(tf.float32, size=n, element_shape=(n_students,))
            _, losses = tf.while_loop(lambda i, _: i < n, body, (tf.constant(0), losses))
            return losses.stack()

        return run

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
        deadline: float | None = None,
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
            deadline: a ``time.perf_counter()`` time: training stops (logged) at
                the first chunk of steps that would start after it (a budget).

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
        run = self._make_loop(placed, optimizers)
        chunk = self.config.steps_per_execution
        start = time.perf_counter()
        done = 0
        progress = self.progress  # a pass keeps its progress even if the attribute changes
        progress.start(f"{len(placed)} student{'s' if len(placed) > 1 else ''}", total)
        for epoch in range(epochs):
            sums, count = np.zeros(len(placed)), 0
            iterator = iter(distributed)
            left = min(n_batches, total - done)
            while left > 0 and active:
                check_interrupt()
                if deadline is not None and time.perf_counter() > deadline:
                    logger.info(
                        "Training stopped at the budget's deadline after %d of %d steps",
                        done,
                        total,
                    )
                    total = done
                    break
                n = min(chunk, left)
                losses = run(iterator, tf.constant(n)).numpy() / self.strategy.num_replicas_in_sync
                left -= n
                bad = []
                for row, i in enumerate(active):
                    column = losses[:, row]
                    finite = np.isfinite(column)
                    ok = n if finite.all() else int(np.argmin(finite))
                    results[i].steps += ok
                    sums[i] += float(np.sum(column[:ok]))
                    if ok < n:
                        bad.append(i)
                        results[i].steps += 1
                        results[i].failed = True
                        results[i].loss = float(column[ok])
                        results[i].reason = f"loss became {column[ok]} at step {results[i].steps}"
                        logger.warning("Student %d failed: %s", i, results[i].reason)
                    else:
                        results[i].loss = float(column[-1])
                done += n
                count += n
                progress.advance(n)
                if bad:
                    # Rebuild the loop without the failed students (their weights are lost anyway).
                    active = [i for i in active if i not in bad]
                    if active:
                        run = self._make_loop(
                            [placed[i] for i in active], [optimizers[i] for i in active]
                        )
            means = sums / max(count, 1)
            if on_epoch is not None:
                on_epoch(epoch, means)
            logger.debug("epoch %d: mean losses %s", epoch + 1, np.round(means, 4))
            if not active or done >= total:
                break
        progress.stop()
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
        return accuracies(models, dataset)
