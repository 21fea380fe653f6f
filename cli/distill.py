"""``n2n-tf distill``: train a given student from a given teacher by distillation."""

from __future__ import annotations

import click

from n2n_tf.cli.options import (
    check_line,
    config_option,
    flag_overrides,
    force_option,
    min_teacher_accuracy_option,
    preprocess_option,
    set_option,
)
from n2n_tf.cli.progress import live_progress, quiet_option


@click.command("distill")
@click.option("--teacher", "teacher_path", required=True, help="Teacher model (.keras).")
@click.option("--student", "student_path", required=True, help="Student model (.keras).")
@click.option("--dataset", default=None, help="tfds name, folder:PATH, mnist5k or digits.")
@click.option("--epochs", type=int, default=None, help="Distillation epochs.")
@click.option("--loss", type=click.Choice(["mse", "kd"]), default=None, help="Distillation loss.")
@click.option("--lr", type=float, default=None, help="Learning rate.")
@click.option("--strategy", default=None, help="auto, default, mirrored or multi_worker.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Output .keras file.")
@click.option("--unsafe", is_flag=True, help="Allow model files that store Python code.")
@preprocess_option
@force_option
@min_teacher_accuracy_option
@quiet_option
@config_option
@set_option
def distill(
    teacher_path,
    student_path,
    dataset,
    epochs,
    loss,
    lr,
    strategy,
    out,
    unsafe,
    preprocess,
    force,
    min_teacher_accuracy,
    quiet,
    config_path,
    overrides,
):
    """Distil STUDENT from TEACHER and save it, printing accuracies before and after."""
    from n2n_tf.jobs.distill import DistillRequest, run

    flags = flag_overrides(
        {
            "data.dataset": dataset,
            "distill.epochs": epochs,
            "distill.loss": loss,
            "distill.learning_rate": lr,
            "runtime.strategy": strategy,
            "data.preprocess": preprocess,
            "teacher.min_accuracy": min_teacher_accuracy,
        }
    )
    from n2n_tf.jobs import load_config

    config = load_config(config_path, [*flags, *overrides])
    with live_progress(quiet) as progress:
        summary = run(
            DistillRequest(
                teacher_path,
                student_path,
                config,
                out,
                safe_mode=not unsafe,
                progress=progress,
                force=force,
            )
        )
    click.echo(check_line(summary.teacher_check))
    click.echo(
        f"Teacher {summary.teacher_accuracy:.2%} ({summary.teacher_params:,} params); "
        f"student {summary.before:.2%} before, {summary.after:.2%} after "
        f"({summary.student_params:,} params, {summary.seconds:.1f} s)"
    )
    click.echo(f"Test accuracy of the student: {summary.test_accuracy:.2%}")
    click.echo(f"Saved to {out}")
