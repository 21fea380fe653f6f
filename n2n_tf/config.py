"""Run configuration: frozen dataclasses, YAML in and out, ``--set`` overrides.

Every section is a frozen dataclass. A field may carry ``metadata`` with a
``range`` (inclusive ``(low, high)``, either end ``None`` for open) or a
``choices`` tuple; values are checked when a config is built from a mapping.

Example:
    >>> cfg = load_config(None, ["teacher.epochs=3"])
    >>> cfg.teacher.epochs
    3
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from n2n_tf.atomic import write_text
from n2n_tf.types import DEFAULT_FACTORS


def _rng(low: float | None, high: float | None) -> dict:
    return {"range": (low, high)}


def _choices(*values: str) -> dict:
    return {"choices": values}


@dataclass(frozen=True)
class DataConfig:
    """Where the images come from and how they are batched.

    Attributes:
        dataset: a tfds name (``cifar10``), ``folder:PATH`` or a bundled set
            (``mnist5k``, ``digits``).
        data_dir: tensorflow-datasets data directory (None: tfds default).
        batch_size: examples per training batch.
        val_fraction: share of the training split carved out for validation.
        test_fraction: share held out for test when a source has no test split.
        split_seed: seed of the val/test carving, apart from the run seed so a
            teacher and its students see the same splits.
        augment: ``auto`` (crop+flip for CIFAR-like colour data, none for
            digits), ``none``, or ``crop_flip``.
        image_size: resize folder images to this ``[height, width]``; None
            picks the most common size.
        cache: cache decoded examples in memory.
        network_timeout_s: give up on a tfds download that received no byte
            within this many seconds.
        preprocess: how images are scaled for the teacher: ``auto`` (score the
            teacher under every mode and keep the best), ``raw`` (0..255),
            ``unit`` (x/255), ``symmetric`` ([-1, 1]), ``standardize``
            (per-channel mean/std), ``pixel_mean`` (x/255 minus the mean image),
            or keras.applications' ``caffe`` / ``torch`` modes.
        classes: class names to use, in the teacher's label order (None: all,
            in the dataset's order).
    """

    dataset: str = "mnist5k"
    data_dir: str | None = None
    batch_size: int = field(default=128, metadata=_rng(1, 65536))
    val_fraction: float = field(default=0.1, metadata=_rng(0.0, 0.9))
    test_fraction: float = field(default=0.2, metadata=_rng(0.0, 0.9))
    split_seed: int = field(default=0, metadata=_rng(0, 2**31 - 1))
    augment: str = field(default="auto", metadata=_choices("auto", "none", "crop_flip"))
    image_size: tuple[int, int] | None = None
    cache: bool = True
    network_timeout_s: float = field(default=15.0, metadata=_rng(1.0, 3600.0))
    preprocess: str = field(
        default="auto",
        metadata=_choices(
            "auto", "raw", "unit", "symmetric", "standardize", "pixel_mean", "caffe", "torch"
        ),
    )
    classes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TeacherConfig:
    """How ``train-teacher`` builds and trains a zoo teacher, and how any teacher is checked.

    ``min_accuracy`` is the teacher check's floor on validation accuracy
    (None: chance + 10 points); jobs stop below it unless forced.
    """

    arch: str = "lenet5"
    width: float = field(default=1.0, metadata=_rng(0.01, 16.0))
    epochs: int = field(default=10, metadata=_rng(1, 10000))
    optimizer: str = field(default="adam", metadata=_choices("adam", "sgd"))
    learning_rate: float = field(default=1e-3, metadata=_rng(1e-7, 10.0))
    momentum: float = field(default=0.9, metadata=_rng(0.0, 0.999))
    weight_decay: float = field(default=5e-4, metadata=_rng(0.0, 1.0))
    schedule: str = field(default="cosine", metadata=_choices("cosine", "constant"))
    min_accuracy: float | None = field(default=None, metadata=_rng(0.0, 1.0))


@dataclass(frozen=True)
class DistillConfig:
    """How students are scored and fine-tuned: a short distillation from the teacher.

    Attributes:
        loss: ``mse`` (L2 between logits, the paper's loss) or ``kd`` (Hinton).
        temperature: softening temperature of ``kd``.
        alpha: weight of cross-entropy on the labels (0: pure distillation).
        optimizer: ``adam`` (AdamW) or ``sgd``.
        learning_rate: the paper uses 5e-4 with Adam.
        weight_decay: decoupled weight decay (paper: 5e-4).
        epochs: epochs per scored student.
        steps: if > 0, a step budget per student instead of whole epochs.
        train_fraction: students are scored on this seeded share of the
            training split (the fine-tune uses all of it); smaller is cheaper
            per search (fewer teacher views to compute) at the cost of a
            noisier score.
        cache: teacher logits: ``auto`` (cached when the training data is not
            augmented), ``memory``, ``disk`` or ``off``.
        eval_batch_size: batch size for validation passes.
        finetune_epochs: epochs of the final fine-tune of the best student.
        teacher_views: with random (crop+flip) augmentation, the teacher's logits
            are computed once per search for this many seeded augmented views of
            every training image, and students train on those views (one picked
            at random per image and epoch); 0: augment every batch anew and run
            the teacher on it. Ignored without augmentation (one view).
        score_bn_momentum: BatchNormalization momentum of students while they
            are scored (at most this; the fine-tune keeps the model's own).
            Keras' 0.99 keeps the teacher's inherited statistics through a
            short distillation (67% of them after 40 steps), which scored
            shrunk CIFAR-10 students near chance: 0.9 raised their validation
            accuracy after 40 steps from 10-28% to 23-67% (RESULTS.md, issue 12).
        steps_per_execution: training steps run inside one ``tf.function`` call
            (fewer Python round trips; losses are checked for NaN after each call).
    """

    loss: str = field(default="mse", metadata=_choices("mse", "kd"))
    temperature: float = field(default=4.0, metadata=_rng(0.1, 100.0))
    alpha: float = field(default=0.0, metadata=_rng(0.0, 1.0))
    optimizer: str = field(default="adam", metadata=_choices("adam", "sgd"))
    learning_rate: float = field(default=5e-4, metadata=_rng(1e-7, 10.0))
    weight_decay: float = field(default=5e-4, metadata=_rng(0.0, 1.0))
    epochs: int = field(default=5, metadata=_rng(0, 10000))
    steps: int = field(default=0, metadata=_rng(0, 10**9))
    train_fraction: float = field(default=1.0, metadata=_rng(0.001, 1.0))
    cache: str = field(default="auto", metadata=_choices("auto", "memory", "disk", "off"))
    eval_batch_size: int = field(default=512, metadata=_rng(1, 65536))
    finetune_epochs: int = field(default=20, metadata=_rng(0, 10000))
    steps_per_execution: int = field(default=32, metadata=_rng(1, 100000))
    teacher_views: int = field(default=4, metadata=_rng(0, 10000))
    score_bn_momentum: float = field(default=0.9, metadata=_rng(0.0, 1.0))


@dataclass(frozen=True)
class SearchConfig:
    """The two-stage RL search (PAPER.md: m=5 rollouts, 100 updates per stage).

    Learning rates and the entropy bonus were chosen on synthetic rewards
    (``benchmarks/search_tuning.py``, RESULTS.md); the paper's presets keep the
    reference code's rates (0.003 removal, 0.1 shrinkage). Constraints
    (``max_params``, ``max_flops``, ``min_accuracy``, ``max_tflite_bytes``)
    are None when unset. ``round_to``: shrunk widths are rounded to a multiple
    of it; 0 (auto): 8 when a GPU is present (tensor-core friendly widths), 1
    otherwise (``runtime.resolve_device_defaults``).

    ``budget`` (``"30m"``, ``"1h"``; None: none) is wall-clock time for the
    whole ``compress`` job: the updates per stage, steps per scored student,
    ``distill.train_fraction`` and fine-tune epochs are planned from costs
    measured on this machine, and each stage stops at its deadline
    (``search/budget.py``). ``students``: plan the updates for this many
    scored students instead of ``removal_updates``/``shrink_updates``.
    ``stages``: the stages run in order (``search.stages.STAGE_TYPES``; the
    paper's two by default), each starting from the best of the one before.
    ``method``: how the student is found (``search.baselines.method_names``):
    ``n2n`` (the policy search), ``random`` (random search over the same
    stages), or a baseline without a search (``l1``: L1-norm uniform-ratio
    pruning; ``uniform``: the same widths from scratch) at ``max_params``
    when set, else at ``width`` of every layer.

    Two-tier scoring (``search/screen.py``): with ``screen_top_k`` > 0 every
    sampled student is first screened (inherited weights, BatchNorm statistics
    re-estimated on ``screen_batches`` training batches, accuracy on the first
    ``screen_images`` validation images) and only the ``screen_top_k`` best of
    each update get the short distillation; 0 distils every student (the
    paper's). The stages named in ``screen_reward`` learn from the screen of
    every rollout; the others from their distilled rollouts only. A stage's
    best student is always chosen by its distilled score.

    ``target_params`` / ``target_flops`` (a count, or a ratio to the teacher
    such as ``4x``): every sampled architecture is projected onto the target
    before it is built (``search/target.py``), and the reward is the accuracy
    ratio to the teacher. The ``max_*`` constraints keep working beside them.
    ``target_latency`` (ms per image, or a ratio such as ``4x``) is the measured
    TFLite float latency: the compress job times the teacher and uniform-width
    students of it, fits latency to multiply-adds, and holds the multiply-add
    target that fit gives (``search/latency.py``); the report gives the found
    student's own measured latency against it.
    ``width_prior``: the initial probability a width policy puts on the
    factor 0.5 (0: uniform; N2N's reference code starts at 0.45).
    ``offsets`` / ``offset_prior``: the width multipliers the ``offsets`` stage
    chooses from per layer (1.0 among them: the parent's width), and its initial
    probability on 1.0 (``search.stages=[ratio, offsets]``: a searched uniform ratio,
    then its widths redistributed).
    ``normalize_advantages``: REINFORCE's advantages divided by their standard
    deviation within the update. ``self_imitation`` (K; 0: off; 1 by default,
    chosen on synthetic rewards: RESULTS.md, issue 19): each stage keeps the K
    best rollouts it has sampled and adds them to every update's batch
    with the advantage ``max(R - b, 0)`` (self-imitation learning, Oh et al.
    2018), so the policy moves towards the best architectures it has seen
    instead of collapsing onto a worse mode.
    ``compare`` (``[l1]``): baseline methods whose student of the found
    student's size is fine-tuned beside it, the same way; the report says by
    how many points the search won or lost.
    """

    stages: tuple[str, ...] = ("removal", "shrink")
    method: str = "n2n"
    width: float = field(default=0.5, metadata=_rng(0.01, 1.0))
    width_prior: float = field(default=0.0, metadata=_rng(0.0, 0.99))
    normalize_advantages: bool = False
    self_imitation: int = field(default=1, metadata=_rng(0, 1000))
    target_params: str | None = None
    target_flops: str | None = None
    target_latency: str | None = None
    compare: tuple[str, ...] = ()
    screen_top_k: int = field(default=0, metadata=_rng(0, 100000))
    screen_reward: tuple[str, ...] = ()
    screen_batches: int = field(default=8, metadata=_rng(1, 10000))
    screen_images: int = field(default=1024, metadata=_rng(1, 10**7))
    rollouts: int = field(default=5, metadata=_rng(1, 1000))
    removal_updates: int = field(default=100, metadata=_rng(0, 100000))
    shrink_updates: int = field(default=100, metadata=_rng(0, 100000))
    removal_lr: float = field(default=0.01, metadata=_rng(1e-6, 10.0))
    shrink_lr: float = field(default=0.02, metadata=_rng(1e-6, 10.0))
    hidden: int = field(default=30, metadata=_rng(1, 4096))
    layers: int = field(default=2, metadata=_rng(1, 8))
    factors: tuple[float, ...] = DEFAULT_FACTORS
    offsets: tuple[float, ...] = (0.625, 0.8, 1.0, 1.25, 1.6)
    offset_prior: float = field(default=0.5, metadata=_rng(0.0, 0.99))
    baseline_decay: float = field(default=0.8, metadata=_rng(0.0, 0.999))
    entropy_weight: float = field(default=0.01, metadata=_rng(0.0, 10.0))
    init_keep_logit: float = field(default=1.0, metadata=_rng(-10.0, 10.0))
    round_to: int = field(default=0, metadata=_rng(0, 256))
    budget: str | None = None
    students: int | None = field(default=None, metadata=_rng(1, 10**7))
    inherit: bool = True
    random_baseline: bool = False
    max_params: float | None = None
    max_flops: float | None = None
    min_accuracy: float | None = None
    max_tflite_bytes: float | None = None


@dataclass(frozen=True)
class RuntimeConfig:
    """Process-wide settings.

    Attributes:
        seed: seeds Python, NumPy, TensorFlow and Keras.
        strategy: tf.distribute strategy; ``auto`` picks it from TF_CONFIG and GPUs.
        mixed_precision: float16 compute with float32 variables (GPU only);
            None (auto): on when a GPU is present.
        jit_compile: XLA-compile the training step; None (auto): on when a GPU
            is present (on a CPU XLA was slower here).
        intra_op_threads: threads one op may use. -1 (auto) and 0: TensorFlow's
            default (one thread per op tied on LeNet-5 students and was 1.4x
            slower on ResNet-20 students on a 2-core CPU: RESULTS.md, issue 13).
        inter_op_threads: ops run at once; 0: TensorFlow's default (one per core).
        executor: where a search's students are scored: ``local`` (this process)
            or ``ray`` (Ray actors, ``search/ray_executor.py``).
        address: the Ray cluster to join (``auto``: the one ``ray start --head``
            started on this machine; None: start a local Ray instance).
        workers: Ray actors scoring students; None: one per GPU of the cluster,
            else one per two CPUs.
    """

    seed: int = field(default=0, metadata=_rng(0, 2**31 - 1))
    strategy: str = field(
        default="auto", metadata=_choices("auto", "default", "mirrored", "multi_worker")
    )
    mixed_precision: bool | None = None
    jit_compile: bool | None = None
    intra_op_threads: int = field(default=-1, metadata=_rng(-1, 4096))
    inter_op_threads: int = field(default=0, metadata=_rng(0, 4096))
    executor: str = field(default="local", metadata=_choices("local", "ray"))
    address: str | None = None
    workers: int | None = field(default=None, metadata=_rng(1, 4096))


@dataclass(frozen=True)
class Config:
    """The whole resolved configuration of a run."""

    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" Did you mean `{close[0]}`?" if close else ""


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Converts a YAML value to the field's declared type, or raises ValueError."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, where)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(f"`{where}` expects a non-empty list. Received: {where}={value!r}")
        return tuple(_coerce(v, args[0], where) for v in value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ValueError(
                f"`{where}` expects a list of {len(args)} values. Received: {where}={value!r}"
            )
        return tuple(_coerce(v, a, where) for v, a in zip(value, args, strict=True))
    if annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads 1e6 as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # a number where text is allowed: ``budget: 45``, a target
    else:
        raise RuntimeError(f"Internal error: unsupported config type {annotation!r}")
    raise ValueError(
        f"`{where}` expects a value of type {annotation.__name__}. Received: {where}={value!r}"
    )


def _check(value: Any, f: dataclasses.Field, where: str) -> None:
    if value is None:
        return
    if "range" in f.metadata:
        low, high = f.metadata["range"]
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"`{where}` must be in [{low}, {high}]. Received: {where}={value!r}")
    if "choices" in f.metadata and value not in f.metadata["choices"]:
        allowed = ", ".join(f.metadata["choices"])
        raise ValueError(
            f"`{where}` must be one of: {allowed}.{_suggest(str(value), f.metadata['choices'])} "
            f"Received: {where}={value!r}"
        )


def _build(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(
            f"`{prefix or 'config'}` must be a mapping of keys to values. "
            f"Received: {prefix or 'config'}={data!r}"
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        where = f"{prefix}{key}"
        if key not in fields:
            raise ValueError(
                f"Unknown config key `{where}`.{_suggest(str(key), fields)} "
                f"Known keys: {', '.join(prefix + k for k in fields)}. Received: {where}"
            )
        annotation = hints[key]
        if isinstance(value, (list, tuple)) and not value and fields[key].default == ():
            kwargs[key] = ()  # a list that may be empty (``screen_reward``, ``compare``)
            continue
        if dataclasses.is_dataclass(annotation):
            kwargs[key] = _build(annotation, value or {}, f"{where}.")
        else:
            coerced = _coerce(value, annotation, where)
            _check(coerced, fields[key], where)
            kwargs[key] = coerced
    return cls(**kwargs)


def from_dict(data: Mapping[str, Any]) -> Config:
    """Builds a validated ``Config`` from nested mappings.

    Raises:
        ValueError: on an unknown key (with a did-you-mean suggestion), a value
            of the wrong type, or a value outside its allowed range.
    """
    return _build(Config, data, "")


def to_dict(config: Any) -> dict[str, Any]:
    """Returns the config as plain nested dicts and lists (YAML-ready)."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    return {
        f.name: to_dict(getattr(config, f.name))
        if dataclasses.is_dataclass(getattr(config, f.name))
        else plain(getattr(config, f.name))
        for f in dataclasses.fields(config)
    }


def _merge(base: dict, extra: Mapping) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict[str, Any]:
    """Turns ``"section.key=value"`` into ``{"section": {"key": value}}``.

    The value is parsed as YAML, so ``3``, ``0.5``, ``true`` and ``[32, 32]``
    get their natural types.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(
            f"An override must look like `section.key=value`. Received: override={text!r}"
        )
    value = yaml.safe_load(raw) if raw.strip() else None
    out: dict[str, Any] = value
    for part in reversed(key.strip().split(".")):
        out = {part: out}
    return out


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Reads a YAML mapping, with a clear error for missing or malformed files."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Config file not found. Received: config='{path}'")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(
            f"Config file is not valid YAML ({err}). Received: config='{path}'"
        ) from err
    return data or {}


def default_config_path() -> Path:
    """The embedded default configuration (``configs/demo.yaml``)."""
    return Path(str(resources.files("n2n_tf.configs").joinpath("demo.yaml")))


def load_config(
    path: str | os.PathLike | None = None,
    overrides: Iterable[str | Mapping[str, Any]] = (),
) -> Config:
    """Loads a YAML config and applies overrides (later ones win).

    Args:
        path: a YAML file; None uses the dataclass defaults.
        overrides: ``"section.key=value"`` strings or nested mappings, e.g.
            the values of CLI flags.

    Returns:
        The validated, frozen ``Config``.

    Raises:
        ValueError: for a missing/invalid file, an unknown key or a bad value.
    """
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    for item in overrides:
        data = _merge(data, parse_override(item) if isinstance(item, str) else item)
    return from_dict(data)


def save_config(config: Config, path: str | os.PathLike) -> Path:
    """Writes the resolved config as YAML, atomically."""
    return write_text(path, yaml.safe_dump(to_dict(config), sort_keys=False))


def with_preprocess(config: Config, preprocess: str | None) -> Config:
    """``config`` with ``data.preprocess`` set (``--preprocess``); unchanged for None."""
    if preprocess is None:
        return config
    return dataclasses.replace(config, data=dataclasses.replace(config.data, preprocess=preprocess))
