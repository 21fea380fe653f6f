"""``n2n-tf inspect``: the layers the policies see, and the teacher's accuracy on a dataset."""

from __future__ import annotations

import json

import click

from n2n_tf.cli.options import architecture_option, config_option, preprocess_option, set_option


def _shape(shape: list) -> str:
    return "x".join("?" if d is None else str(d) for d in shape) or "-"


def format_table(report: dict) -> str:
    """The layer table, totals, fixed layers and (with a dataset) the accuracies."""
    header = ("layer", "type", "output", "params", "FLOPs", "remove", "shrink", "group")
    rows = [header]
    for r in report["layers"]:
        rows.append(
            (
                r["name"],
                r["type"],
                _shape(r["output_shape"]),
                f"{r['params']:,}",
                f"{r['flops']:,}",
                "yes" if r["removable"] else "no",
                "yes" if r["shrinkable"] else ("tied" if r.get("tied_to") else "no"),
                str(r["group"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.append(
        f"{len(report['layers'])} layers seen by the policies; {report['params']:,} trainable "
        f"parameters, {report['flops']:,} FLOPs (multiply-adds)"
    )
    if report.get("fixed"):
        lines.append("Kept as they are:")
        lines += [f"  {f['name']} ({f['type']}): {f['reason']}" for f in report["fixed"]]
    if "preprocess" in report:
        tried = ", ".join(f"{m} {a:.2%}" for m, a in report["preprocess"]["candidates"].items())
        lines.append(f"Preprocessing candidates (validation accuracy): {tried}")
        lines.append(f"Preprocessing chosen: {report['preprocess']['chosen']}")
        acc = report["accuracy"]
        lines.append(
            f"Teacher on {report['dataset']}: validation {acc['val']:.2%}, test {acc['test']:.2%} "
            f"(floor {report['floor']:.2%})"
        )
    return "\n".join(lines)


@click.command("inspect")
@click.argument("teacher")
@click.option("--dataset", default=None, help="Score the teacher on this dataset too.")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
@click.option("--unsafe", is_flag=True, help="Allow teacher files that store Python code.")
@preprocess_option
@architecture_option
@config_option
@set_option
def inspect(teacher, dataset, as_json, unsafe, preprocess, architecture, config_path, overrides):
    """Show the layers of TEACHER the search can remove or shrink, and what is kept as is.

    TEACHER is a .keras / .h5 file, a SavedModel directory or zoo:NAME (built for
    32x32x3 images and 10 classes when no --dataset is given).
    """
    from n2n_tf.jobs import load_config
    from n2n_tf.jobs.inspect import InspectRequest, run

    config = load_config(config_path, list(overrides))
    request = InspectRequest(
        teacher,
        dataset,
        preprocess=preprocess,
        config=config,
        safe_mode=not unsafe,
        architecture=architecture,
    )
    report = run(request).report
    click.echo(json.dumps(report) if as_json else format_table(report))
