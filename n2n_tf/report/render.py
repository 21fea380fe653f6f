"""Writes ``report.json``, ``report.md`` and a self-contained ``report.html``.

The HTML embeds its plots as base64 PNGs and its style inline: one file that
opens anywhere without a network. ``report.md`` holds the same tables and
links the PNGs written to ``report_plots/``. ``report.json`` keeps every key
of compress's metrics unchanged and adds the report's figures under
``"report"``.
"""

from __future__ import annotations

import base64
import html
import logging
from pathlib import Path

from n2n_tf.report import plots
from n2n_tf.report.reader import REPORT_KEY, RunData, load_run
from n2n_tf.report.summary import summarize
from n2n_tf.report.targets import latency_line
from n2n_tf.report.transfer import policies_line
from n2n_tf.run_store import RunStore

logger = logging.getLogger(__name__)

PLOTS = ("rewards", "accuracy_vs_params", "accuracy_vs_flops", "widths")
CAPTIONS = {
    "rewards": (
        "Reward per policy update against the teacher (mean and max over rollouts); "
        "the REINFORCE baseline is on the reward the policy learnt from "
        "(Stage 2: against its Stage-1 architecture)"
    ),
    "accuracy_vs_params": "Every scored student: validation accuracy vs parameters",
    "accuracy_vs_flops": "Every scored student: validation accuracy vs FLOPs",
    "widths": "Per-layer width of the teacher and the student (x: removed)",
}


# ---------------------------------------------------------------- formatting
def _pct(value) -> str:
    return "-" if value is None else f"{float(value):.2%}"


def _int(value) -> str:
    return "-" if value is None else f"{int(value):,}"


def _num(value, digits: int = 3) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def summary_rows(metrics: dict, figures: dict) -> list[tuple[str, str, str]]:
    """``(quantity, teacher, student)`` rows of the summary table."""
    t = figures["teacher"]
    s = metrics.get("student") or {}
    best = figures.get("best_scored") or {}
    if not s and best:  # an unfinished run: the best student scored so far
        s = {"params": best["params"], "flops": best["flops"], "val_accuracy": best["val_accuracy"]}
    return [
        ("validation accuracy", _pct(t.get("val_accuracy")), _pct(s.get("val_accuracy"))),
        ("test accuracy", _pct(t.get("test_accuracy")), _pct(s.get("test_accuracy"))),
        ("parameters", _int(t.get("params")), _int(s.get("params"))),
        ("FLOPs (multiply-adds)", _int(t.get("flops")), _int(s.get("flops"))),
    ]


def facts(metrics: dict, figures: dict) -> list[tuple[str, str]]:
    """``(name, value)`` lines under the summary table."""
    out = [("status", figures["status"]), ("preprocessing", figures["preprocess"])]
    method = metrics.get("method")
    if method not in (None, "n2n"):  # how the student was found
        out.append(("method", method + ("" if metrics.get("search") else " (no search)")))
    transferred = policies_line(metrics)
    if transferred:
        out.append(("policies from", transferred))
    if latency_line(metrics):
        out.append(("latency", latency_line(metrics)))
    ratio = metrics.get("compression_ratio")
    if ratio is None and figures.get("best_scored") and figures["teacher"].get("params"):
        ratio = figures["teacher"]["params"] / max(figures["best_scored"]["params"], 1)
    out.append(("compression", "-" if ratio is None else f"{ratio:.1f}x"))
    if metrics.get("compression") is not None:
        out.append(("compression C", _num(metrics["compression"])))
    stage1 = metrics.get("stage1")
    if stage1:
        out.append(("stage-1 architecture", f"{stage1['params']:,} params"))
    out.append(("reward (fine-tuned student)", _num(metrics.get("reward"))))
    search_reward = metrics.get("search_reward")
    if search_reward is None and figures.get("best_scored"):
        search_reward = figures["best_scored"]["reward"]
    out.append(("best search reward", _num(search_reward)))
    done, planned = figures["updates_done"], figures["updates_planned"]
    for stage in planned:
        total = planned.get(stage)
        out.append((f"{stage} updates", f"{done.get(stage, 0)} of {total if total else '?'}"))
    trained = metrics.get("students_trained")
    out.append(
        (
            "students scored",
            f"{figures['students_scored']} distinct"
            + (f", {trained} trained" if trained is not None else "")
            + (
                f"; {figures['students_screened_only']} more screened only"
                if figures.get("students_screened_only")
                else ""
            ),
        )
    )
    for name, other in (metrics.get("compare") or {}).items():
        if other.get("points_won") is not None:
            out.append(
                (
                    f"vs {name} at the same size",
                    f"test {_pct(other['test_accuracy'])} at {other['params']:,} params; "
                    f"the search {'won' if other['points_won'] >= 0 else 'lost'} by "
                    f"{abs(other['points_won']):.2f} points",
                )
            )
    random = metrics.get("random_baseline")
    if random:
        out.append(
            (
                "random search",
                f"{random['students']} students, best reward {_num(random['best_reward'])}",
            )
        )
    if metrics.get("seconds") is not None:
        out.append(("seconds", f"{metrics['seconds']:.0f}"))
    if figures["removed_layers"]:
        out.append(("removed layers", ", ".join(figures["removed_layers"])))
    if figures["skipped_lines"]:
        out.append(("unreadable history lines skipped", str(figures["skipped_lines"])))
    return out


def export_rows(figures: dict) -> list[tuple[str, ...]]:
    """Size, parity and latency per exported artifact."""
    rows = []
    for e in figures["export"]:
        delta = e.get("accuracy_delta")
        rows.append(
            (
                e["format"],
                f"{e['bytes'] / 1024:.1f} KiB",
                _pct(e.get("agreement")),
                _pct(e.get("accuracy"))
                + ("" if delta is None else f" ({100 * float(delta):+.2f} pts)"),
                "-" if e.get("max_abs_diff") is None else f"{e['max_abs_diff']:.3g}",
                "-" if e.get("latency_ms") is None else f"{e['latency_ms']:.3f} ms",
            )
        )
    return rows


EXPORT_HEADER = ("artifact", "size", "top-1 agreement", "accuracy", "max |diff|", "latency")
UPDATE_HEADER = ("stage", "update", "mean reward", "max reward", "baseline", "best so far")
PARETO_HEADER = ("source", "parameters", "FLOPs", "val accuracy", "reward", "removed", "factors")
WIDTH_HEADER = ("layer", "kind", "teacher", "student")


def update_rows(figures: dict) -> list[tuple[str, ...]]:
    return [
        (
            stage,
            str(r["update"]),
            _num(r["mean_reward"]),
            _num(r["max_reward"]),
            _num(r["baseline"]),
            _num(r["best_reward"]),
        )
        for stage, rows in figures["updates"].items()
        for r in rows
    ]


def pareto_rows(figures: dict) -> list[tuple[str, ...]]:
    return [
        (
            p["source"],
            _int(p["params"]),
            _int(p["flops"]),
            _pct(p["val_accuracy"]),
            _num(p["reward"]),
            ", ".join(p["removed"]) or "-",
            ", ".join(f"{k}={v:g}" for k, v in p["factors"].items()) or "-",
        )
        for p in figures["pareto_params"]
    ]


def width_rows(figures: dict) -> list[tuple[str, ...]]:
    return [
        (
            r["layer"],
            r["kind"],
            str(r["teacher"]),
            "removed" if r["removed"] else ("-" if r["student"] is None else str(r["student"])),
        )
        for r in figures["widths"]
    ]


# ---------------------------------------------------------------- Markdown
def _md_table(header, rows) -> str:
    if not rows:
        return "_none yet_\n"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def markdown(run: RunData, metrics: dict, figures: dict, images: dict[str, str]) -> str:
    """The report as Markdown; ``images`` maps plot names to relative PNG paths."""
    parts = [f"# N2N compression report: `{run.run_dir.name}`\n"]
    parts.append("## Summary\n")
    parts.append(_md_table(("", "teacher", "student"), summary_rows(metrics, figures)))
    parts.append("\n" + "\n".join(f"- **{k}**: {v}" for k, v in facts(metrics, figures)) + "\n")
    parts.append("\n## Export: sizes, parity with Keras, latency\n")
    parts.append(_md_table(EXPORT_HEADER, export_rows(figures)))
    for name in PLOTS:
        if name in images:
            parts.append(f"\n![{CAPTIONS[name]}]({images[name]})\n")
    parts.append("\n## Pareto front (accuracy vs parameters)\n")
    parts.append(_md_table(PARETO_HEADER, pareto_rows(figures)))
    parts.append("\n## Layers\n")
    if figures["widths_note"]:
        parts.append(f"Student widths: {figures['widths_note']}.\n\n")
    parts.append(_md_table(WIDTH_HEADER, width_rows(figures)))
    parts.append("\nRemoved layers: " + (", ".join(figures["removed_layers"]) or "none") + "\n")
    parts.append("\n## Reward per update\n")
    parts.append(_md_table(UPDATE_HEADER, update_rows(figures)))
    parts.append("\n## Resolved config\n\n```yaml\n" + (run.config_text or "# missing\n") + "```\n")
    return "".join(parts)


# ---------------------------------------------------------------- HTML
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
ul.facts { columns: 2; } figure { margin: 1em 0; } figure img { max-width: 100%; }
figcaption { color: #555; font-size: .9em; } pre { background: #f6f6f6; padding: 1em; }
.status { display: inline-block; padding: .1em .6em; border-radius: .8em; background: #e8f4e8; }
.incomplete { background: #fdf0d5; }
details { margin: .5em 0; }
"""


def _html_table(header, rows) -> str:
    if not rows:
        return "<p><em>none yet</em></p>"
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(name: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    caption = html.escape(CAPTIONS[name])
    return (
        f'<figure id="{name}"><img alt="{caption}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def html_page(run: RunData, metrics: dict, figures: dict, pngs: dict[str, bytes]) -> str:
    """The report as one self-contained HTML page."""
    e = html.escape
    status_class = "status" + ("" if figures["complete"] else " incomplete")
    facts_html = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in facts(metrics, figures))
    figures_html = "".join(_figure(n, pngs[n]) for n in PLOTS if n in pngs)
    note = f"<p>Student widths: {e(figures['widths_note'])}.</p>" if figures["widths_note"] else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>N2N report: {e(run.run_dir.name)}</title><style>{STYLE}</style></head>
<body>
<h1>N2N compression report: <code>{e(run.run_dir.name)}</code></h1>
<p><span class="{status_class}">{e(figures["status"])}</span></p>
<h2>Summary</h2>
{_html_table(("", "teacher", "student"), summary_rows(metrics, figures))}
<ul class="facts">{facts_html}</ul>
<h2>Export: sizes, parity with Keras, latency</h2>
{_html_table(EXPORT_HEADER, export_rows(figures))}
<h2>Plots</h2>
{figures_html or "<p><em>Nothing scored yet.</em></p>"}
<h2>Pareto front (accuracy vs parameters)</h2>
{_html_table(PARETO_HEADER, pareto_rows(figures))}
<h2>Layers</h2>
{note}
{_html_table(WIDTH_HEADER, width_rows(figures))}
<p>Removed layers: {e(", ".join(figures["removed_layers"]) or "none")}</p>
<h2>Reward per update</h2>
<details><summary>{sum(len(r) for r in figures["updates"].values())} updates</summary>
{_html_table(UPDATE_HEADER, update_rows(figures))}</details>
<h2>Resolved config</h2>
<pre>{e(run.config_text or "# missing")}</pre>
</body></html>
"""


# ---------------------------------------------------------------- entry point
def draw(figures: dict, metrics: dict) -> dict[str, bytes]:
    """The PNGs of the report, by name (plots with nothing to show are left out)."""
    student = metrics.get("student") or {}
    teacher = figures["teacher"]
    pngs = {
        "rewards": plots.rewards(figures["updates"]),
        "accuracy_vs_params": plots.accuracy_vs(
            figures["students"], figures["pareto_params"], "params", teacher, student
        ),
        "accuracy_vs_flops": plots.accuracy_vs(
            figures["students"], figures["pareto_flops"], "flops", teacher, student
        ),
        "widths": plots.widths(figures["widths"]),
    }
    return {name: png for name, png in pngs.items() if png}


def write_report(run_dir: str | Path, metrics: dict | None = None) -> dict[str, Path]:
    """Renders the report of a run directory (finished, running, killed or old).

    Args:
        run_dir: a directory written by ``compress``.
        metrics: compress's metrics (default: read from ``report.json``); all
            their keys are kept unchanged in the new ``report.json``.

    Returns:
        The paths written: ``{"json": ..., "md": ..., "html": ...}``.

    Raises:
        ValueError: ``run_dir`` is not a run directory.

    Example:
        >>> write_report("runs/demo/search")["html"]
        PosixPath('runs/demo/search/report.html')
    """
    run = load_run(run_dir)
    if metrics is not None:
        run.metrics = {k: v for k, v in metrics.items() if k != REPORT_KEY}
    metrics = run.metrics
    figures = summarize(run)
    pngs = draw(figures, metrics)
    store = RunStore(run.run_dir)
    images = {}
    for name, png in pngs.items():
        with store.atomic(store.report_plots / f"{name}.png") as tmp:
            tmp.write_bytes(png)
        images[name] = f"{store.report_plots.name}/{name}.png"
    paths = {
        "json": store.write_json(store.report_json, {**metrics, REPORT_KEY: figures}),
        "md": store.write_text(store.report_md, markdown(run, metrics, figures, images)),
        "html": store.write_text(store.report_html, html_page(run, metrics, figures, pngs)),
    }
    logger.debug("Report written to %s", paths["html"])
    return paths


__all__ = ["write_report"]
