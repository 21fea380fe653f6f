"""``n2n-tf export``: write a model in deployable formats and check each one."""

from __future__ import annotations

import click

from n2n_tf.cli.options import config_option, set_option


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
    default="keras,saved_model,tflite,tflite-dynamic,tflite-int8",
    show_default=True,
    help="Comma-separated formats.",
)
@click.option("--dataset", default=None, help="Data for int8 calibration and parity checks.")
@click.option("--out", type=click.Path(file_okay=False), default="export", show_default=True)
@click.option("--unsafe", is_flag=True, help="Allow loading models that store Python code.")
@config_option
@set_option
def export(model_path, formats, dataset, out, unsafe, config_path, overrides):
    """Export MODEL_PATH to deployable formats with parity and latency checks."""
    from n2n_tf.io.run import export_file

    report = export_file(
        model_path,
        [f.strip() for f in formats.split(",") if f.strip()],
        out,
        dataset,
        config_path,
        overrides,
        safe_mode=not unsafe,
    )
    click.echo(format_report(report))
    click.echo(f"Written to {out}")
