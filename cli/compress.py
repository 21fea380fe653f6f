"""``n2n-tf compress``: the main job, teacher in, small fine-tuned student out."""

from __future__ import annotations

from pathlib import Path

import click

from n2n_tf.cli.options import (
    architecture_option,
    check_line,
    config_option,
    flag_overrides,
    force_option,
    min_teacher_accuracy_option,
    preprocess_option,
    raw_inputs_option,
    set_option,
)
from n2n_tf.cli.progress import live_progress, quiet_option


def _summary(metrics: dict) -> str:
    t, s = metrics["teacher"], metrics["student"]
    check = metrics.get("teacher_check")
    head = []
    if check:
        head.append(check_line(check))
    rows = [
        ("", "teacher", "student"),
        ("test accuracy", f"{t['test_accuracy']:.2%}", f"{s['test_accuracy']:.2%}"),
        ("val accuracy", f"{t['val_accuracy']:.2%}", f"{s['val_accuracy']:.2%}"),
        ("params", f"{t['params']:,}", f"{s['params']:,}"),
        ("FLOPs (MACs)", f"{t['flops']:,}", f"{s['flops']:,}"),
    ]
    lines = head + [f"{a:<15}{b:>14}{c:>14}" for a, b, c in rows]
    method = metrics.get("method", "n2n")
    if method != "n2n":
        lines.append(f"method: {method}" + ("" if metrics.get("search") else " (no search)"))
    stage1 = metrics.get("stage1")
    if stage1:
        removed = len(stage1["architecture"].get("removed", []))
        lines.append(
            f"stage-1 architecture: {stage1['params']:,} params ({removed} layers removed), "
            f"student {s['params']:,} params "
            f"({stage1['params'] / max(s['params'], 1):.2f}x smaller than it)"
        )
    lines.append(
        f"compression {metrics['compression_ratio']:.1f}x (C={metrics['compression']:.3f}), "
        f"reward {metrics['reward']:.3f}, {metrics['students_trained']} students trained, "
        f"{metrics['seconds']:.0f} s"
    )
    for index, (stage, fifths) in enumerate(metrics["stages"].items()):
        first, last = fifths["first_fifth_mean_reward"], fifths["last_fifth_mean_reward"]
        against = ("vs teacher", "vs stage-1 architecture")[index] if index < 2 else "vs parent"
        if first is not None:
            lines.append(
                f"{stage}: mean reward ({against}) first fifth {first:.3f} -> last fifth {last:.3f}"
            )
    target = metrics.get("target")
    if target:
        given = ", ".join(f"{k} <= {v:,}" for k, v in target.items() if v is not None)
        lines.append(f"target: {given} (every student projected onto it)")
    from n2n_tf.jobs.compress import latency_line

    if latency_line(metrics):
        lines.append(f"latency: {latency_line(metrics)}")
    for name, other in (metrics.get("compare") or {}).items():
        if other.get("points_won") is not None:
            lines.append(
                f"vs {name} at the same size ({other['params']:,} params, fine-tuned alike): "
                f"test {other['test_accuracy']:.2%}; the search "
                f"{'won' if other['points_won'] >= 0 else 'lost'} by "
                f"{abs(other['points_won']):.2f} points"
            )
    from n2n_tf.jobs.compress import policies_line

    transferred = policies_line(metrics)
    if transferred:
        lines.append(f"policies started from another run's: {transferred}")
    random = metrics.get("random_baseline")
    if random and random.get("best_reward") is not None:
        lines.append(
            f"random search, same plan ({random['students']} students trained): reward "
            f"{random['best_reward']:.3f} at {random['best_params']:,} params; policy search "
            f"{metrics['search_reward']:.3f} at {s['params']:,} params (teacher-relative)"
        )
    return "\n".join(lines)


@click.command("compress")
@click.option(
    "--teacher",
    required=False,
    help="Teacher: a .keras or legacy .h5 file, a SavedModel directory, or zoo:NAME.",
)
@click.option("--dataset", default=None, help="tfds name, folder:PATH, mnist5k or digits.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run directory.")
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Continue the run checkpointed in this directory.",
)
@click.option(
    "--policies",
    "policies_dir",
    default=None,
    help="Start every stage's policy from an earlier run's (RUN_DIR/policies): transfer.",
)
@click.option("--removal-policy", default=None, help="Start from these removal-policy weights.")
@click.option("--shrink-policy", default=None, help="Start from these shrink-policy weights.")
@click.option("--seed", type=int, default=None, help="Random seed.")
@click.option("--max-params", type=float, default=None, help="Constraint: at most this many.")
@click.option("--max-flops", type=float, default=None, help="Constraint: at most this many MACs.")
@click.option("--min-accuracy", type=float, default=None, help="Constraint: validation accuracy.")
@click.option("--max-tflite-bytes", type=float, default=None, help="Constraint: TFLite size.")
@click.option(
    "--budget",
    default=None,
    help="Wall-clock budget for search + fine-tune + export, e.g. 30m, 1h, 1h30m "
    "(a bare number: minutes). Without a GPU and without --config, 60m.",
)
@click.option(
    "--students", type=int, default=None, help="Students to score in the search (a plan)."
)
@click.option(
    "--target-params",
    default=None,
    help="Size target: at most this many parameters, or a ratio to the teacher (4x). Every "
    "sampled student is projected onto it; the reward is then the accuracy ratio.",
)
@click.option(
    "--target-flops", default=None, help="Target on multiply-adds: a count or a ratio (4x)."
)
@click.option(
    "--target-latency",
    default=None,
    help="Target on the TFLite float latency measured here: ms per image, or a ratio (4x). "
    "Timed on the teacher and uniform students, held as the multiply-adds that fit gives.",
)
@click.option(
    "--compare",
    default=None,
    help="Also fine-tune these methods' students of the found student's size, the same "
    "way, and say by how many points the search won (e.g. l1).",
)
@click.option(
    "--method",
    default=None,
    help="How the student is found: n2n (the policy search, default), random (random "
    "search over the same stages), l1 (L1-norm uniform-ratio pruning at --max-params, "
    "else at search.width), uniform (those widths from scratch).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default=None,
    help="Where the search's students are scored: local (this process, default) or ray "
    "(Ray actors; pip install -e '.[ray]').",
)
@click.option(
    "--address",
    default=None,
    help="With --executor ray: the Ray cluster to join (HOST:PORT, or auto for the one "
    "`ray start --head` started here); default: start a local Ray instance.",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="With --executor ray: actors scoring students (default: one per GPU of the "
    "cluster, else one per two CPUs).",
)
@click.option("--unsafe", is_flag=True, help="Allow teacher files that store Python code.")
@click.option("--no-export", is_flag=True, help="Skip exporting the final student.")
@preprocess_option
@force_option
@min_teacher_accuracy_option
@architecture_option
@raw_inputs_option
@quiet_option
@config_option
@set_option
def compress(
    teacher,
    dataset,
    out,
    resume_dir,
    policies_dir,
    removal_policy,
    shrink_policy,
    seed,
    max_params,
    max_flops,
    min_accuracy,
    max_tflite_bytes,
    budget,
    students,
    target_params,
    target_flops,
    target_latency,
    compare,
    method,
    executor,
    address,
    workers,
    unsafe,
    no_export,
    preprocess,
    force,
    min_teacher_accuracy,
    architecture,
    no_preprocessing_layers,
    quiet,
    config_path,
    overrides,
):
    """Search a small student of TEACHER by RL, fine-tune it and print a summary."""
    from n2n_tf.jobs import EXPORT_FORMATS, load_config
    from n2n_tf.jobs.compress import CompressRequest, run

    if resume_dir:
        saved = Path(resume_dir) / "config.yaml"
        if not saved.is_file():
            raise click.UsageError(f"{resume_dir} holds no config.yaml to resume from.")
        config_path, out = config_path or str(saved), resume_dir
    if not teacher and not resume_dir:
        raise click.UsageError("--teacher is required.")
    flags = flag_overrides(
        {
            "data.dataset": dataset,
            "runtime.seed": seed,
            "search.max_params": max_params,
            "search.max_flops": max_flops,
            "search.min_accuracy": min_accuracy,
            "search.max_tflite_bytes": max_tflite_bytes,
            "data.preprocess": preprocess,
            "teacher.min_accuracy": min_teacher_accuracy,
            "search.budget": budget,
            "search.students": students,
            "search.method": method,
            "runtime.executor": executor,
            "runtime.address": address,
            "runtime.workers": workers,
            "search.target_params": target_params,
            "search.target_flops": target_flops,
            "search.target_latency": target_latency,
            "search.compare": None
            if compare is None
            else [m.strip() for m in compare.split(",") if m.strip()],
        }
    )
    config = load_config(config_path, [*flags, *overrides])
    with live_progress(quiet) as progress:
        request = CompressRequest(
            teacher,
            None,
            config,
            out=out or "runs/compress",
            removal_policy=removal_policy,
            shrink_policy=shrink_policy,
            policies=policies_dir,
            resume=bool(resume_dir),
            safe_mode=not unsafe,
            formats=() if no_export else EXPORT_FORMATS,
            progress=progress,
            force=force,
            architecture=architecture,
            bake_preprocessing=not no_preprocessing_layers,
            cpu_budget=config_path is None,
        )
        result = run(request)
    click.echo(_summary(result.metrics))
    if result.metrics.get("export"):
        from n2n_tf.cli.export import format_report

        click.echo(format_report(result.metrics["export"]))
    click.echo(f"Student: {result.run_dir / 'final' / 'student.keras'}")
    if result.metrics.get("export") and not no_preprocessing_layers:
        click.echo(
            f"Deployable files in {result.run_dir / 'final'} take raw pixels (0..255): "
            f"preprocessing `{result.metrics['preprocess']}` is inside them"
        )
    if (result.run_dir / "report.html").is_file():
        click.echo(f"Report: {result.run_dir / 'report.html'}")
