"""Train a zoo teacher on a dataset with a sound recipe (``n2n-tf train-teacher``)."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import keras

from n2n_tf import models, predictions
from n2n_tf.atomic import atomic_path
from n2n_tf.config import Config, save_config
from n2n_tf.graph import count_params
from n2n_tf.interrupt import InterruptCheck
from n2n_tf.jobs.preamble import begin, load_data
from n2n_tf.progress import SILENT, Progress
from n2n_tf.runtime import make_strategy, use_xla

logger = logging.getLogger(__name__)


@dataclass
class TeacherResult:
    """A trained teacher and how well it does."""

    model: keras.Model
    val_accuracy: float
    test_accuracy: float
    params: int
    seconds: float
    path: Path | None


def make_optimizer(cfg, steps: int) -> keras.optimizers.Optimizer:
    """SGD with momentum (decoupled weight decay) or AdamW, with an optional cosine schedule."""
    lr = cfg.learning_rate
    if cfg.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=max(steps, 1))
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(
            lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay or None
        )
    return keras.optimizers.AdamW(lr, weight_decay=cfg.weight_decay)


def accuracy(model: keras.Model, dataset) -> float:
    """Top-1 accuracy of a logits model on a batched ``(x, y)`` dataset."""
    return predictions.accuracy(model, dataset)


class ProgressCallback(keras.callbacks.Callback):
    """Reports a Keras ``fit`` to a ``Progress``: a pass per epoch, a batch per step.

    After every epoch ``progress.update`` gets ``kind="epoch"``, ``epoch``,
    ``epochs``, the epoch's logs (``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy``), ``seconds``, ``elapsed``, ``epochs_left`` and ``eta``.
    """

    def __init__(self, progress: Progress, epochs: int, steps: int):
        super().__init__()
        self.progress, self.epochs, self.steps = progress, epochs, steps
        self.started = self.epoch_started = 0.0

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()
        self.progress.start(f"epoch {epoch + 1}/{self.epochs}", self.steps)

    def on_train_batch_end(self, batch, logs=None):
        self.progress.advance(1)

    def on_epoch_end(self, epoch, logs=None):
        self.progress.stop()
        now = time.perf_counter()
        left = self.epochs - epoch - 1
        info = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, (int, float))}
        info.update(
            kind="epoch",
            epoch=epoch + 1,
            epochs=self.epochs,
            seconds=now - self.epoch_started,
            elapsed=now - self.started,
            epochs_left=left,
            eta=(now - self.started) / (epoch + 1) * left,
        )
        self.progress.update(info)


@dataclass
class TeacherRequest:
    """Train ``config.teacher.arch`` on ``config.data.dataset`` (see ``train_teacher``)."""

    config: Config
    out: str | Path | None = None
    verbose: int | str = "auto"
    progress: Progress | None = None


def run(request: TeacherRequest) -> TeacherResult:
    """The ``train-teacher`` job."""
    return train_teacher(**vars(request))


def train_teacher(
    config: Config,
    out: str | Path | None = None,
    verbose: int | str = "auto",
    progress: Progress | None = None,
) -> TeacherResult:
    """Builds ``config.teacher.arch`` and trains it on ``config.data.dataset``.

    Args:
        config: the resolved configuration (``data``, ``teacher``, ``runtime``).
        out: where to save the ``.keras`` file (atomically, after training);
            the resolved config is written beside it as ``<stem>.config.yaml``.
        verbose: Keras progress bar setting (1: bar per epoch, 2: a line per epoch).
        progress: told about every epoch and step (``ProgressCallback``); the
            CLI passes one and ``verbose=0``.

    Returns:
        A ``TeacherResult`` with validation and test accuracy.

    Raises:
        ValueError: for an unknown architecture or dataset, or a bad ``out`` suffix.
    """
    if out is not None and Path(out).suffix != ".keras":
        raise ValueError(f"The teacher is saved as a .keras file. Received: out='{out}'")
    begin(config)
    ds = load_data(config)
    info = ds.info
    cfg = config.teacher
    strategy = make_strategy(config.runtime.strategy)
    steps = math.ceil(info.split_sizes["train"] / config.data.batch_size) * cfg.epochs
    with strategy.scope():
        model = models.build(cfg.arch, info.input_shape, info.num_classes, width=cfg.width)
        model.compile(
            optimizer=make_optimizer(cfg, steps),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=use_xla(config.runtime.jit_compile),
        )
    logger.info(
        "Training %s (%s trainable parameters) on %s for %d epochs",
        cfg.arch,
        f"{count_params(model):,}",
        info.name,
        cfg.epochs,
    )
    start = time.perf_counter()
    model.fit(
        ds.train,
        validation_data=ds.val,
        epochs=cfg.epochs,
        shuffle=False,  # tf.data shuffles ds.train (Keras 3.15 warns that it would not)
        verbose=verbose,
        callbacks=[
            InterruptCheck(),
            ProgressCallback(progress or SILENT, cfg.epochs, steps // cfg.epochs),
        ],
    )
    seconds = time.perf_counter() - start
    result = TeacherResult(
        model=model,
        val_accuracy=accuracy(model, ds.val),
        test_accuracy=accuracy(model, ds.test),
        params=count_params(model),
        seconds=seconds,
        path=None,
    )
    if out is not None:
        out = Path(out)
        with atomic_path(out) as tmp:
            model.save(tmp)
        # The preprocessing it was trained with, not ``auto``: what a later job should use.
        used = dataclasses.replace(config.data, preprocess=ds.preprocessing.mode)
        save_config(
            dataclasses.replace(config, data=used), out.with_name(f"{out.stem}.config.yaml")
        )
        result.path = out
    return result
