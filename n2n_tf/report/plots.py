"""The report's plots, drawn with matplotlib (Agg, no display) into PNG bytes."""

from __future__ import annotations

import io

STAGE_COLOURS = {"removal": "tab:blue", "shrink": "tab:purple"}
SOURCE_STYLE = {
    "policy": {"color": "tab:blue", "label": "policy search"},
    "random": {"color": "tab:orange", "label": "random search"},
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def rewards(per_update: dict[str, list[dict]]) -> bytes | None:
    """Mean, max reward and baseline per update, one panel per stage."""
    stages = [s for s, rows in per_update.items() if rows]
    if not stages:
        return None
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(stages), figsize=(5.5 * len(stages), 3.6), squeeze=False)
    for ax, stage in zip(axes[0], stages, strict=True):
        rows = per_update[stage]
        x = [r["update"] for r in rows]
        colour = STAGE_COLOURS.get(stage, "tab:gray")
        ax.plot(x, [r["mean_reward"] for r in rows], "-o", ms=3, color=colour, label="mean")
        ax.plot(x, [r["max_reward"] for r in rows], "--", color=colour, alpha=0.6, label="max")
        ax.plot(x, [r["baseline"] for r in rows], ":", color="black", label="baseline")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{stage}: reward per update")
        ax.set_xlabel("update")
        ax.set_ylabel("reward")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def accuracy_vs(points: list[dict], front: list[dict], cost: str, teacher: dict, student: dict):
    """Every scored student as accuracy vs ``cost`` (params or flops), Pareto front highlighted."""
    if not points and not teacher.get(cost):
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for source, style in SOURCE_STYLE.items():
        group = [p for p in points if p["source"] == source]
        if group:
            ax.scatter(
                [p[cost] for p in group],
                [p["val_accuracy"] for p in group],
                s=16,
                alpha=0.55,
                color=style["color"],
                label=f"{style['label']} ({len(group)})",
            )
    if front:
        ax.plot(
            [p[cost] for p in front],
            [p["val_accuracy"] for p in front],
            "-o",
            color="tab:red",
            ms=5,
            mfc="none",
            label="Pareto front",
        )
    if teacher.get(cost) and teacher.get("val_accuracy") is not None:
        ax.scatter(
            [teacher[cost]],
            [teacher["val_accuracy"]],
            marker="*",
            s=220,
            color="gold",
            edgecolor="black",
            zorder=5,
            label="teacher",
        )
    elif teacher.get(cost):
        ax.axvline(teacher[cost], color="goldenrod", ls="--", label="teacher")
    if student.get(cost) and student.get("val_accuracy") is not None:
        ax.scatter(
            [student[cost]],
            [student["val_accuracy"]],
            marker="D",
            s=70,
            color="tab:green",
            edgecolor="black",
            zorder=5,
            label="final student (fine-tuned)",
        )
    ax.set_xscale("log")
    ax.set_xlabel("parameters" if cost == "params" else "FLOPs (multiply-adds)")
    ax.set_ylabel("validation accuracy")
    ax.set_title(f"Scored students: accuracy vs {'parameters' if cost == 'params' else 'FLOPs'}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def widths(rows: list[dict]) -> bytes | None:
    """Teacher vs student width per weight layer; removed layers marked."""
    if not rows:
        return None
    plt = _pyplot()
    n = len(rows)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * n + 2), 4.0))
    x = list(range(n))
    ax.bar([i - 0.2 for i in x], [r["teacher"] for r in rows], 0.4, color="silver", label="teacher")
    kept = [(i, r) for i, r in enumerate(rows) if r["student"] is not None]
    ax.bar(
        [i + 0.2 for i, _ in kept],
        [r["student"] for _, r in kept],
        0.4,
        color="tab:green",
        label="student",
    )
    removed = [i for i, r in enumerate(rows) if r["removed"]]
    if removed:
        ax.scatter(
            [i + 0.2 for i in removed],
            [0.5] * len(removed),
            marker="x",
            s=60,
            color="tab:red",
            zorder=5,
            label="removed",
        )
    ax.set_xticks(x)
    ax.set_xticklabels([r["layer"] for r in rows], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("outputs (channels / units)")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_title("Per-layer width: teacher vs student")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


__all__ = ["accuracy_vs", "rewards", "widths"]
