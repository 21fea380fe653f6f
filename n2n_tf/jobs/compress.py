"""``compress``: the product's main job, from a teacher to a fine-tuned student."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from n2n_tf import graph
from n2n_tf.config import Config, DistillConfig, SearchConfig, save_config, with_preprocess
from n2n_tf.data import Datasets
from n2n_tf.io import FORMATS, export, load_model, load_teacher, strip_softmax
from n2n_tf.io.export import representative
from n2n_tf.jobs.preamble import begin, load_data, prepare
from n2n_tf.progress import SILENT
from n2n_tf.report.targets import latency_line
from n2n_tf.report.transfer import policies_line
from n2n_tf.run_store import RunStore
from n2n_tf.runtime import resolve_device_defaults
from n2n_tf.search.baselines import METHODS, SEARCHES, check_method
from n2n_tf.search.budget import (
    MARGIN,
    finetune_epochs,
    load_plan,
    make_plan,
    measure,
    parse_duration,
    save_plan,
)
from n2n_tf.search.environment import Environment
from n2n_tf.search.finetune import finetune_and_measure
from n2n_tf.search.latency import latency_report, resolve_latency_target
from n2n_tf.search.loop import Best, Search, check_policies, random_search, saved_budget_left
from n2n_tf.search.reward import compression
from n2n_tf.types import Architecture

logger = logging.getLogger(__name__)
__all__ = [
    "CompressRequest",
    "CompressionResult",
    "compress",
    "latency_line",
    "policies_line",
    "run",
]


@dataclass
class CompressionResult:
    """The fine-tuned student, its figures (as in ``report.json``) and the run directory."""

    student: keras.Model
    metrics: dict
    run_dir: Path


CPU_BUDGET = "60m"


def cpu_plan(config: Config) -> Config:
    """Without a GPU, the paper's plan (days on a CPU) becomes a budget of an hour.

    Only when nothing says how much to search: no budget, no student count, and
    the paper's updates and epochs per student (no ``--set`` of them). The CLI
    asks for it when no ``--config`` was given; the plan is logged.
    """
    import tensorflow as tf

    paper_s, paper_d = SearchConfig(), DistillConfig()
    s, d = config.search, config.distill
    unplanned = (
        s.budget is None
        and s.students is None
        and (s.removal_updates, s.shrink_updates)
        == (paper_s.removal_updates, paper_s.shrink_updates)
        and (d.epochs, d.steps) == (paper_d.epochs, paper_d.steps)
    )
    if not unplanned or tf.config.list_physical_devices("GPU"):
        return config
    logger.warning(
        "No GPU found and no --budget, --students or --config given: planning the search for "
        "a budget of %s (the paper's 100 + 100 updates would take days on a CPU; see "
        "configs/cifar10-cpu.yaml, or pass --budget)",
        CPU_BUDGET,
    )
    return dataclasses.replace(config, search=dataclasses.replace(config.search, budget=CPU_BUDGET))


def resolve_teacher(
    teacher, data: Datasets, safe_mode: bool = True, architecture: str | None = None
) -> keras.Model:
    """A keras.Model, any file ``io.load_teacher`` reads, or ``zoo:NAME`` (untrained)."""
    if isinstance(teacher, keras.Model):
        return strip_softmax(teacher)
    return load_teacher(
        str(teacher),
        safe_mode,
        input_shape=data.info.input_shape,
        num_classes=data.info.num_classes,
        architecture=architecture,
    )


def _fifths(values: list[float]) -> dict:
    """Mean reward of the first and the last fifth of a stage's updates."""
    if not values:
        return {"first_fifth_mean_reward": None, "last_fifth_mean_reward": None}
    n = max(1, len(values) // 5)
    return {
        "first_fifth_mean_reward": float(np.mean(values[:n])),
        "last_fifth_mean_reward": float(np.mean(values[-n:])),
    }


@dataclass
class CompressRequest:
    """What the ``compress`` job is asked to do.

    Attributes:
        teacher: a keras.Model, a ``.keras`` path, or ``zoo:NAME`` (ignored when
            resuming: the run keeps its own copy, ``teacher.keras``).
        dataset: a dataset name (see ``n2n_tf.data.load``), loaded ``Datasets``, or
            None for the config's ``data.dataset``.
        config: the resolved config.
        out: the run directory (config, history, checkpoints, students, report).
        removal_policy: start the removal policy from these weights (transfer).
        shrink_policy: start the shrink policy from these weights (transfer).
        resume: continue the search checkpointed in ``out``.
        on_update: progress callback, called after every policy update.
        safe_mode: refuse teacher files that store Python code.
        formats: export formats of the final student (``io.FORMATS``; empty: none).
        preprocess: input preprocessing (``data.MODES`` or ``auto``; default: the
            config's ``data.preprocess``); resolved before the search and saved.
        force: go on with a teacher below the accuracy floor.
        architecture: the architecture JSON of a weights-only ``.h5`` teacher.
        bake_preprocessing: exported files start with the preprocessing as Keras
            layers and take raw pixels (0..255).
        progress: a ``n2n_tf.progress.Progress`` told about every training pass
            and policy update (the CLI draws it; default: silent).
        method: how the student is found (default: the config's ``search.method``,
            ``n2n``): ``n2n``, ``random``, or a baseline such as ``l1``
            (``search.baselines.method_names``).
        policies: an earlier run's ``policies/`` (or its run directory): every stage's
            policy starts from it (transfer); the report names the run.
        cpu_budget: the config came from no file: without a GPU and with nothing
            that says how much to search, plan a budget of ``CPU_BUDGET`` (``cpu_plan``).
    """

    teacher: object
    dataset: object
    config: Config
    out: str | Path = "runs/compress"
    removal_policy: str | None = None
    shrink_policy: str | None = None
    resume: bool = False
    on_update: object = None
    safe_mode: bool = True
    formats: tuple = FORMATS
    preprocess: str | None = None
    force: bool = False
    architecture: str | None = None
    bake_preprocessing: bool = True
    progress: object = None
    method: str | None = None
    policies: str | Path | None = None
    cpu_budget: bool = False


def compress(teacher, dataset, config: Config, **options) -> CompressionResult:
    """Finds, fine-tunes and saves a small student of ``teacher`` (N2N learning).

    The Python entry point of ``run``: ``options`` are ``CompressRequest``'s other
    fields (``out``, ``resume``, ``method``, ``formats``, ...).

    Returns:
        A ``CompressionResult``.

    Example:
        >>> result = n2n_tf.compress(teacher, "mnist5k", n2n_tf.load_config("configs/demo.yaml"))
    """
    return run(CompressRequest(teacher, dataset, config, **options))


def run(request: CompressRequest) -> CompressionResult:
    """The ``compress`` job: the search (or a baseline method), the fine-tune of the
    student found, its export and the report, all in ``request.out``."""
    r = request
    teacher, dataset, config, out = r.teacher, r.dataset, r.config, r.out
    resume, safe_mode, formats, progress = r.resume, r.safe_mode, r.formats, r.progress
    job_start = time.perf_counter()  # a --budget counts from here
    if r.cpu_budget and not resume:
        config = cpu_plan(config)
    if r.method is not None:
        config = dataclasses.replace(
            config, search=dataclasses.replace(config.search, method=r.method)
        )
    check_method(config.search.method)
    if r.policies is not None and config.search.method in SEARCHES:
        check_policies(config, r.policies)  # a misfit is refused before any work
    run_dir = Path(out)
    store = RunStore(run_dir)
    teacher_arg = teacher
    # Before anything starts TensorFlow (a model passed in has started it: then logged).
    begin(config, fused=config.search.rollouts > 1)
    if isinstance(dataset, Datasets):
        if config.runtime.executor == "ray":
            raise ValueError(
                "The Ray executor loads the dataset on every worker by its name: pass a "
                "dataset name (a tfds name, folder:PATH, mnist5k or digits), not loaded "
                f"Datasets. Received: dataset=<Datasets {dataset.info.name!r}>, executor='ray'"
            )
        data = dataset
    else:
        data_config = dataclasses.replace(config.data, dataset=dataset or config.data.dataset)
        config = dataclasses.replace(config, data=data_config)
        data = load_data(config)
    saved_teacher = store.teacher
    if resume:
        # The run's own copy: the same weights even for an untrained zoo teacher.
        teacher = load_model(str(saved_teacher), safe_mode=safe_mode)
    else:
        teacher = resolve_teacher(teacher, data, safe_mode, r.architecture)
    config = with_preprocess(config, r.preprocess)
    untrained = isinstance(teacher_arg, str) and teacher_arg.startswith("zoo:")
    if untrained:
        logger.warning(
            "`%s` is an untrained zoo network: the teacher check is skipped", teacher_arg
        )
    # A resumed run's teacher was accepted (or forced past the check) when the run began.
    prepared = prepare(teacher, data, config, force=r.force or untrained or resume)
    teacher, data, config = prepared.teacher, prepared.data, prepared.config
    config = resolve_device_defaults(config)  # issue 13: auto GPU settings, saved resolved
    # A latency target is timed here once (kept in the run) and held as a MACs target.
    config, latency = resolve_latency_target(config, teacher, run_dir / "latency.json")
    plan, costs, search_offset = None, None, None
    if resume:  # a budgeted run goes on with the budget it had left (its clock, not the wall's)
        plan, costs, search_offset, job_start = _resumed_plan(run_dir, job_start)
    elif config.search.budget or config.search.students:
        plan, costs = _plan(teacher, data, config, job_start, bool(formats))
        config = plan.apply(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, store.config)
    if not resume:
        with store.atomic(saved_teacher) as tmp:
            teacher.save(tmp)
    start = time.perf_counter()
    if search_offset is not None:
        start = job_start + search_offset
    elif plan is not None and not resume:
        save_plan(run_dir, plan, costs, start - job_start)
    budget_end = None if plan is None or plan.budget_s is None else job_start + plan.budget_s
    if config.search.method in SEARCHES:
        found = _search(
            teacher,
            data,
            config,
            run_dir,
            (r.removal_policy, r.shrink_policy, r.policies),
            r.on_update,
            progress,
            plan,
            start,
            budget_end,
            resume,
        )
    else:
        found = _baseline(teacher, data, config)
    env, arch = found.env, found.arch
    student = env.build(arch, inherit=found.inherit)
    with store.atomic(store.best_student) as tmp:
        student.save(tmp)
    env.trainer.progress = (progress or SILENT).labelled("fine-tune")
    # Each compared method's student of the same size is fine-tuned beside it, alike.
    rivals = _rivals(teacher, env, config, graph.count_params(student))
    fitted = [student, *(model for _, _, model in rivals)]
    epochs, deadline = config.distill.finetune_epochs, None
    if budget_end is not None:
        deadline = budget_end - plan.budget_s * MARGIN - plan.export_s
        flops = sum(graph.count_flops(model) for model in fitted)
        share = max(0.1, flops / max(env.spec.flops, 1))
        epoch_s = costs.train_batches * costs.step_s * share + costs.fit_overhead_s
        epochs = finetune_epochs(epochs, deadline - time.perf_counter(), epoch_s)
        logger.info("Fine-tuning for %d epoch(s) within the budget", epochs)
    final, *measured = finetune_and_measure(env, fitted, data, epochs, deadline=deadline)
    if final.failed:
        raise ValueError(f"Fine-tuning the best student failed: {final.reason}")
    (teacher_test,) = env.trainer.evaluate([teacher], data.test)
    with store.atomic(store.final_student) as tmp:
        student.save(tmp)
    exported = None
    if formats:
        exported = export(
            student,
            store.final,
            formats,
            representative=representative(data, raw=r.bake_preprocessing),
            validation=data.raw_batches("val") if r.bake_preprocessing else data.val,
            preprocessing=data.preprocessing if r.bake_preprocessing else None,
        )
    metrics = {
        "method": config.search.method,
        "teacher": {
            "params": env.teacher_params,
            "flops": env.spec.flops,
            "val_accuracy": env.teacher_accuracy,
            "test_accuracy": teacher_test,
        },
        "student": {
            "params": final.params,
            "flops": final.flops,
            "val_accuracy": final.val_accuracy,
            "test_accuracy": final.test_accuracy,
            "architecture": arch.to_dict(),
            "search_val_accuracy": (found.score or {}).get("val_accuracy"),
        },
        **found.metrics,
        "compression": compression(final.params, env.teacher_params),
        "compression_ratio": env.teacher_params / max(final.params, 1),
        "reward": final.reward,
        "search_reward": (found.score or {}).get("reward"),
        "compare": _compared(final, rivals, measured),
        "target": dataclasses.asdict(env.target) if env.target else None,
        "latency": latency_report(config, latency, exported, student),
        "export": exported,
        "preprocess": config.data.preprocess,
        "teacher_check": prepared.check.to_dict(),
        "seconds": time.perf_counter() - start,
        "job_seconds": time.perf_counter() - job_start,
        "plan": plan.to_dict() if plan else None,
    }
    store.write_json(store.report_json, metrics)
    logger.info("Report written to %s", store.report_json)
    _write_report(run_dir, metrics)
    return CompressionResult(student, metrics, run_dir)


def _rivals(teacher, env, config, params: int) -> list:
    """``(method, architecture, model)`` of every ``search.compare`` method at ``params``."""
    out = []
    for name in config.search.compare:
        check_method(name)
        if name not in METHODS:
            raise ValueError(
                f"search.compare takes methods without a search ({', '.join(METHODS)}). "
                f"Received: compare={list(config.search.compare)}"
            )
        method = METHODS[name]
        arch = method.at_size(teacher, env.spec, params, **env.options)
        keras.utils.set_random_seed(config.runtime.seed)
        out.append((name, arch, env.build(arch, inherit=method.inherit)))
    return out


def _compared(final, rivals, measured) -> dict | None:
    """What the report says of each compared method: its student's figures and by how
    many test-accuracy points the found student won (negative: lost)."""
    if not rivals:
        return None
    out = {}
    for (name, arch, _), m in zip(rivals, measured, strict=True):
        won = None
        if m.test_accuracy is not None:
            won = 100 * (final.test_accuracy - m.test_accuracy)
        out[name] = {
            **dataclasses.asdict(m),
            "architecture": arch.to_dict(),
            "points_won": won,
        }
    return out


@dataclass
class _Found:
    """The student a method found, before its fine-tune."""

    env: Environment
    arch: Architecture
    score: dict | None  # its search score (None without a search)
    inherit: bool
    metrics: dict  # what the report says about how it was found


def _search(
    teacher, data, config, run_dir, start_from, on_update, progress, plan, start, budget_end, resume
) -> _Found:
    """``n2n`` (the policy search over ``search.stages``) or ``random`` (random search
    over the same stages), then the random search at equal cost when asked for."""
    random = config.search.method == "random"
    removal_policy, shrink_policy, policies_dir = start_from
    search = Search(
        teacher,
        data,
        config,
        run_dir,
        removal_policy,
        shrink_policy,
        on_update,
        progress,
        random=random,
        deadlines=plan.deadlines(start) if plan else None,
        budget_end=budget_end,
        updates=plan.updates if plan else None,
        policies_dir=policies_dir,
    )
    env = search.env
    try:  # the executor's workers (Ray actors) live as long as the searches
        state = search.run(resume=resume)
        arch, best_score = search.best()
        if best_score is None:  # never fine-tune and export the teacher as "the student"
            raise ValueError(env.no_valid_student())
        store = RunStore(run_dir)
        for name, stage in search.stages.items():
            if stage.trainable:
                source = {
                    "run": str(run_dir.resolve()),
                    "stage": name,
                    "teacher_params": env.teacher_params,
                    "teacher_layers": len(env.spec.layers),
                    "dataset": config.data.dataset,
                }
                stage.policy.save_policy(store.policy(name), source)
        trained = env.trained
        baseline = None
        if config.search.random_baseline and not random:
            deadlines = plan.random_deadlines(time.perf_counter(), start) if plan else None
            baseline = random_search(search, resume=resume, deadlines=deadlines)
    finally:
        env.close()
    stage1 = Best(**state.best[search.stage_names[0]])
    metrics = {
        # The architecture the later stages started from (none with one stage).
        "stage1": None
        if stage1.score is None or len(search.stage_names) < 2
        else {
            "params": stage1.score["params"],
            "search_val_accuracy": stage1.score["val_accuracy"],
            "architecture": stage1.arch,
        },
        # The rewards each policy learned from: Stage 2's are against its parent.
        "stages": {s: _fifths(state.rewards[s]) for s in search.stage_names},
        "search": search.summary(),
        "students_trained": trained,
        "random_baseline": baseline,
        # Policies that started from another run's (transfer): that run, per stage.
        "policies_from": search.policies_from or None,
    }
    return _Found(env, arch, best_score, config.search.inherit, metrics)


def _baseline(teacher, data, config) -> _Found:
    """A method without a search (``search.baselines.METHODS``): its student at
    ``search.max_params`` or ``search.width``."""
    method = METHODS[config.search.method]
    env = Environment(teacher, data, config)
    arch = method.student(teacher, env.spec, config, **env.options)
    logger.info(
        "%s: %s layers narrowed, %s removed (no search)",
        config.search.method,
        len(arch.factors),
        len(arch.removed),
    )
    metrics = {
        "stage1": None,
        "stages": {},
        "search": None,
        "students_trained": 0,
        "random_baseline": None,
    }
    return _Found(env, arch, None, method.inherit, metrics)


def _resumed_plan(run_dir: Path, job_start: float):
    """``(plan, costs, search_offset, job_start)`` of a run being resumed: its saved plan,
    with ``job_start`` moved back by the budget the run had spent at its last checkpoint
    (Nones and ``job_start`` unchanged for a run without a plan)."""
    saved = load_plan(run_dir)
    if saved is None:
        return None, None, None, job_start
    plan, costs, offset = saved
    if plan.budget_s is None:
        return plan, costs, None, job_start
    left = saved_budget_left(run_dir)
    if left is None:  # stopped before its first checkpoint: the search had not started
        left = plan.budget_s - offset
    logger.info(
        "Resuming within its budget of %.1f min: %.1f min left at the last checkpoint",
        plan.budget_s / 60,
        max(0.0, left) / 60,
    )
    return plan, costs, offset, time.perf_counter() + left - plan.budget_s


def _plan(teacher, data, config, job_start: float, export: bool):
    """Measures this machine's costs (with a budget) and plans the search; prints the plan."""
    budget_s = parse_duration(config.search.budget) if config.search.budget else None
    costs = None
    if budget_s is not None:
        logger.info("Measuring the cost of a training step for the budget's plan ...")
        costs = measure(teacher, data, config)
        logger.info(
            "Measured: %.3f s per step of a teacher-sized student, %.3f s per teacher batch, "
            "%.1f s per training pass (in %.0f s)",
            costs.step_s,
            costs.teacher_s,
            costs.fit_overhead_s,
            costs.measured_s,
        )
    plan = make_plan(
        config,
        costs,
        augmented=data.info.augment != "none",
        budget_s=budget_s,
        students=config.search.students,
        export=export,
        elapsed_s=time.perf_counter() - job_start,
    )
    for line in plan.lines():
        logger.info(line)
    return plan, costs


def _write_report(run_dir: Path, metrics: dict) -> None:
    """report.md/.html/.json with plots; a failure here must not lose the run's results."""
    from n2n_tf.report import write_report

    try:
        paths = write_report(run_dir, metrics)
    except Exception as err:  # noqa: BLE001 - the student and report.json are saved already
        logger.warning("Could not render the report (%s); try `n2n-tf report %s`", err, run_dir)
        return
    logger.debug("Report: %s", paths["html"])
