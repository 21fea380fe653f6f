"""The shared preamble of ``compress``, ``distill``, ``export`` and ``inspect``.

1. The teacher's input is fitted to the dataset's images (a Reshape when they
   hold the same number of values) and its outputs to the dataset's classes
   (``num_classes`` logits, or one logit for a two-class dataset).
2. The preprocessing is resolved: ``auto`` scores the teacher on (part of) the
   validation split under every candidate mode and keeps the best.
3. The teacher is checked: below the floor (default: chance + 10 points) the
   job stops with one line, unless ``force``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import keras
import numpy as np

from n2n_tf import data as data_lib
from n2n_tf.config import Config, with_preprocess
from n2n_tf.data import Datasets
from n2n_tf.io.adapt import adapt_input
from n2n_tf.predictions import accuracy
from n2n_tf.runtime import configure_threads, set_seed

logger = logging.getLogger(__name__)

# Images scored per candidate preprocessing when ``auto`` picks one.
AUTO_SAMPLE = 2048


@dataclass
class TeacherCheck:
    """How the teacher did on the validation split, and under which preprocessing."""

    preprocess: str
    val_accuracy: float
    floor: float
    candidates: dict[str, float] = field(default_factory=dict)
    passed: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Prepared:
    """A teacher ready for a job: fitted to ``data``, which uses the chosen preprocessing."""

    teacher: keras.Model
    data: Datasets
    config: Config  # ``data.preprocess`` resolved (never ``auto``)
    check: TeacherCheck


def begin(config: Config, fused: bool = False) -> None:
    """What every job does first: TensorFlow's thread pools (which must be set before
    TensorFlow starts work; see ``runtime.configure_threads``) and the seeds."""
    configure_threads(config.runtime.intra_op_threads, config.runtime.inter_op_threads, fused=fused)
    set_seed(config.runtime.seed)


def load_data(config: Config) -> Datasets:
    """The dataset ``config.data`` names, split and shuffled under the run's seed."""
    return data_lib.from_config(config.data, seed=config.runtime.seed)


def teacher_floor(num_classes: int, min_accuracy: float | None = None) -> float:
    """The lowest validation accuracy a usable teacher has: chance + 10 points by default."""
    if min_accuracy is not None:
        return float(min_accuracy)
    return min(1.0 / max(num_classes, 1) + 0.10, 1.0)


def check_outputs(teacher: keras.Model, num_classes: int, dataset: str) -> None:
    """Raises ValueError unless the teacher has one logit per class (or one for two classes)."""
    units = teacher.output_shape[-1]
    if units == num_classes or (units == 1 and num_classes == 2):
        return
    raise ValueError(
        f"The teacher outputs {units} value(s) but dataset `{dataset}` has {num_classes} "
        "classes. Pick the classes the teacher was trained on, in its label order, with "
        f"data.classes. Received: teacher_outputs={units}, num_classes={num_classes}"
    )


def _not_finite(values) -> bool:
    array = np.asarray(values)
    return array.dtype.kind in "fc" and not np.isfinite(array).all()


def _first_non_finite(teacher: keras.Model, images) -> str | None:
    """The first layer (in graph order) whose output on ``images`` is not finite."""
    layers = [layer for layer in teacher.layers if not isinstance(layer, keras.layers.InputLayer)]
    try:
        probe = keras.Model(teacher.inputs, [layer.output for layer in layers])
        outputs = probe(images, training=False)
    except Exception:  # a shared layer (several outputs): name the model's output instead
        return None
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    if len(outputs) != len(layers):
        return None
    pairs = zip(layers, outputs, strict=True)
    return next((layer.name for layer, out in pairs if _not_finite(out)), None)


def check_finite(teacher: keras.Model, images) -> None:
    """Raises ValueError naming the first layer whose weights (or, on ``images``,
    outputs) hold NaN or infinity: such a teacher scores at chance whatever the
    preprocessing, and no search can start from it."""
    for layer in teacher.layers:
        for weight in layer.weights:
            if _not_finite(keras.ops.convert_to_numpy(weight)):
                raise ValueError(
                    f"The teacher's weights are not finite: `{weight.path}` of layer "
                    f"`{layer.name}` holds NaN or infinity (a diverged training run or a "
                    f"damaged file). Received: layer='{layer.name}'"
                )
    if not _not_finite(teacher(images, training=False)):
        return
    name = _first_non_finite(teacher, images) or teacher.layers[-1].name
    raise ValueError(
        f"The teacher's outputs are not finite: layer `{name}` gives NaN or infinity on the "
        f"validation images although every weight is finite (an overflow, or BatchNormalization "
        f"statistics out of range). Received: layer='{name}'"
    )


def fit_teacher(teacher: keras.Model, data: Datasets) -> keras.Model:
    """The teacher with its input fitted to the images, its outputs checked, and its
    weights and outputs finite."""
    teacher = adapt_input(teacher, data.info.input_shape)
    check_outputs(teacher, data.info.num_classes, data.info.name)
    if data.raw is not None:  # not the cached split, which a partial read would not fill
        images = data.preprocessing(next(iter(data.raw_batches("val")))[0])
    else:
        images = next(iter(data.val))[0]
    check_finite(teacher, images)
    return teacher


def score_candidates(
    teacher: keras.Model, data: Datasets, modes, sample: int = AUTO_SAMPLE
) -> dict[str, float]:
    """Validation accuracy of the teacher under each preprocessing mode (first ``sample``)."""
    raw_val = data.raw[1].take(sample)
    scores = {}
    for mode in modes:
        prep = dataclasses.replace(data.preprocessing, mode=mode)
        batches = raw_val.map(lambda x, y, p=prep: (p(keras.ops.cast(x, "float32")), y)).batch(
            data.batch_size
        )
        scores[mode] = accuracy(teacher, batches)
    return scores


def choose_preprocess(teacher: keras.Model, data: Datasets) -> tuple[str, dict[str, float]]:
    """``auto``: the candidate under which the teacher scores best (ties: earlier mode)."""
    modes = data_lib.candidates(data.info.input_shape[-1])
    scores = score_candidates(teacher, data, modes)
    best = max(modes, key=lambda m: (scores[m], -modes.index(m)))
    return best, scores


def _fail_message(check: TeacherCheck, dataset: str) -> str:
    tried = ", ".join(f"{m} {a:.1%}" for m, a in check.candidates.items()) or check.preprocess
    return (
        f"The teacher scores {check.val_accuracy:.1%} on the validation split of `{dataset}` "
        f"with preprocessing `{check.preprocess}`, below the floor of {check.floor:.1%} "
        f"(tried: {tried}). Check --preprocess (how the teacher's author scaled its inputs), "
        "the dataset, and the class order (data.classes); --force goes on anyway. "
        f"Received: preprocess='{check.preprocess}', val_accuracy={check.val_accuracy:.4f}"
    )


def prepare(teacher: keras.Model, data: Datasets, config: Config, force: bool = False) -> Prepared:
    """Fits the teacher to the data, resolves ``data.preprocess`` and checks the teacher.

    Args:
        teacher: a logits model (see ``io.load_teacher``).
        data: the dataset, loaded with any preprocessing (its raw splits are reused).
        config: the run's config; ``data.preprocess`` may be ``auto``.
        force: go on when the teacher is below the floor.

    Returns:
        A ``Prepared`` whose ``config.data.preprocess`` is the mode in use.

    Raises:
        ValueError: mismatched shapes or classes, or a teacher below the floor.
    """
    teacher = fit_teacher(teacher, data)
    mode, candidates = config.data.preprocess, {}
    if mode == data_lib.AUTO:
        mode, candidates = choose_preprocess(teacher, data)
        logger.info(
            "Preprocessing candidates (teacher's validation accuracy): %s -> `%s`",
            ", ".join(f"{m} {a:.2%}" for m, a in candidates.items()),
            mode,
        )
    data = data_lib.with_preprocess(data, mode)
    config = with_preprocess(config, mode)
    val_accuracy = accuracy(teacher, data.val)
    floor = teacher_floor(data.info.num_classes, config.teacher.min_accuracy)
    check = TeacherCheck(mode, val_accuracy, floor, candidates, val_accuracy >= floor)
    logger.info(
        "Teacher: validation accuracy %.2f%% with preprocessing `%s`", 100 * val_accuracy, mode
    )
    if not check.passed:
        message = _fail_message(check, data.info.name)
        if not force:
            raise ValueError(message)
        logger.warning("Going on (--force): %s", message)
    return Prepared(teacher, data, config, check)
