"""``n2n-tf report``: render report.md, report.html and report.json of a run directory."""

from __future__ import annotations

import click


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
def report(run_dir):
    """Write RUN_DIR/report.{md,html,json} with plots (also for a running or killed run)."""
    from n2n_tf.jobs.report import ReportRequest, run

    paths = run(ReportRequest(run_dir)).paths
    for kind in ("html", "md", "json"):
        click.echo(f"{kind:<5}{paths[kind]}")
