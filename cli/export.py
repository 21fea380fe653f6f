"""``n2n-tf export``: write a model in deployable formats and check each one."""

from __future__ import annotations

import click

from n2n_tf.cli.options import (
    check_line,
    config_option,
    flag_overrides,
    force_option,
    min_teacher_accuracy_option,
    preprocess_option,
    raw_inputs_option,
    set_option,
)
from n2n_tf.jobs import EXPORT_FORMATS


def format_report(report: dict) -> str:
    """One line per artifact: size, agreement with Keras, accuracy, latency."""
    lines = []
    for fmt, entry in report.items():
        if "bytes" not in entry:
            continue
        line = f"{fmt:<15} {entry['bytes'] / 1024:9.1f} KiB"
        if fmt == "keras" and "accuracy" in entry:
            line += f"  accuracy {entry['accuracy']:.2%}"
        if "agreement" in entry:
            line += (
                f"  top-1 agreement {entry['agreement']:.2%}  accuracy {entry['accuracy']:.2%}"
                f" ({100 * entry['accuracy_delta']:+.2f} pts)"
                f"  max|diff| {entry['max_abs_diff']:.3g}"
                f"  latency {entry['latency_ms']:.3f} ms"
            )
        lines.append(line)
    return "\n".join(lines)


@click.command("export")
@click.argument("model_path")
@click.option(
    "--format",
    "formats",
    default=",".join(EXPORT_FORMATS),
    show_default=True,
    help="Comma-separated formats.",
)
@click.option("--dataset", default=None, help="Data for int8 calibration and parity checks.")
@click.option("--out", type=click.Path(file_okay=False), default="export", show_default=True)
@click.option("--unsafe", is_flag=True, help="Allow loading models that store Python code.")
@preprocess_option
@force_option
@min_teacher_accuracy_option
@raw_inputs_option
@config_option
@set_option
def export(
    model_path,
    formats,
    dataset,
    out,
    unsafe,
    preprocess,
    force,
    min_teacher_accuracy,
    no_preprocessing_layers,
    config_path,
    overrides,
):
    """Export MODEL_PATH to deployable formats with parity and latency checks.

    With --dataset the exported files start with the preprocessing as Keras layers and
    take raw pixels (0..255), and every artifact is checked on raw validation images.
    """
    from n2n_tf.jobs import load_config
    from n2n_tf.jobs.export import ExportRequest, run

    flags = flag_overrides({"teacher.min_accuracy": min_teacher_accuracy})
    result = run(
        ExportRequest(
            model_path,
            tuple(f.strip() for f in formats.split(",") if f.strip()),
            out,
            dataset,
            load_config(config_path, [*flags, *overrides]),
            safe_mode=not unsafe,
            preprocess=preprocess,
            force=force,
            bake_preprocessing=not no_preprocessing_layers,
        )
    )
    report, check = result.report, result.check
    if check is not None:
        click.echo(check_line(check.to_dict(), who="Model"))
        if not no_preprocessing_layers:
            click.echo(
                f"The exported files take raw pixels (preprocessing `{check.preprocess}` inside)"
            )
    click.echo(format_report(report))
    click.echo(f"Written to {out}")
