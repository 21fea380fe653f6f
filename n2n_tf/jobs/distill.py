"""File-level distillation used by ``n2n-tf distill``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from n2n_tf.atomic import atomic_path
from n2n_tf.config import Config, save_config
from n2n_tf.distill.trainer import Trainer
from n2n_tf.graph import count_params
from n2n_tf.io import load_teacher
from n2n_tf.jobs.preamble import begin, load_data, prepare


@dataclass
class DistillRequest:
    """Distil the student file ``student`` from the teacher file ``teacher`` into ``out``.

    ``progress`` (a ``n2n_tf.progress.Progress``) sees the training pass and,
    after every epoch, ``update`` with ``kind="epoch"``, the mean loss and the ETA.
    """

    teacher: str
    student: str
    config: Config
    out: str
    safe_mode: bool = True
    force: bool = False
    progress: object = None


@dataclass
class DistillResult:
    """The figures of a distillation (accuracies are fractions of the validation split,
    ``test_accuracy`` of the test split)."""

    teacher_accuracy: float
    teacher_params: int
    student_params: int
    before: float
    after: float
    test_accuracy: float
    seconds: float
    teacher_check: dict
    out: Path


def run(request: DistillRequest) -> DistillResult:
    """Loads teacher and student, distils, saves the student atomically.

    Raises:
        ValueError: unreadable models, mismatched shapes, or a bad output path.
    """
    r = request
    config, out, safe_mode, progress = r.config, r.out, r.safe_mode, r.progress
    if Path(out).suffix != ".keras":
        raise ValueError(f"The student is saved as a .keras file. Received: out='{out}'")
    begin(config)
    ds = load_data(config)
    teacher = load_teacher(r.teacher, safe_mode=safe_mode)
    prepared = prepare(teacher, ds, config, force=r.force)
    teacher, ds = prepared.teacher, prepared.data
    # Students are trained on logits too, fitted to the same images.
    student = load_teacher(r.student, safe_mode=safe_mode, input_shape=ds.info.input_shape)
    if tuple(teacher.output_shape) != tuple(student.output_shape):
        raise ValueError(
            "Teacher and student must have the same output shape. Received: "
            f"teacher={teacher.output_shape}, student={student.output_shape}"
        )
    trainer = Trainer(teacher, config.distill, config.runtime, progress=progress)
    teacher_acc, before = trainer.evaluate([teacher, student], ds.val)
    epochs, started = config.distill.epochs, time.perf_counter()

    def on_epoch(epoch, losses):
        if progress is None:
            return
        elapsed = time.perf_counter() - started
        left = max(epochs - epoch - 1, 0)
        progress.update(
            {
                "kind": "epoch",
                "epoch": epoch + 1,
                "epochs": epochs,
                "loss": float(losses[0]),
                "seconds": elapsed / (epoch + 1),
                "elapsed": elapsed,
                "epochs_left": left,
                "eta": elapsed / (epoch + 1) * left,
            }
        )

    result = trainer.fit([student], ds, on_epoch=on_epoch)[0]
    if result.failed:
        raise ValueError(f"Distillation failed: {result.reason}. Try a lower --lr.")
    (test_acc,) = trainer.evaluate([student], ds.test)
    with atomic_path(out) as tmp:
        student.save(tmp)
    save_config(prepared.config, Path(out).with_name(f"{Path(out).stem}.config.yaml"))
    return DistillResult(
        teacher_accuracy=teacher_acc,
        teacher_params=count_params(teacher),
        student_params=count_params(student),
        before=before,
        after=result.val_accuracy,
        test_accuracy=test_acc,
        seconds=result.seconds,
        teacher_check=prepared.check.to_dict(),
        out=Path(out),
    )
