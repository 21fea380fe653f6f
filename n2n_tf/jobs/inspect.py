"""``inspect``: what the policies see in a teacher, and how it scores on a dataset."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import keras

from n2n_tf import data as data_lib
from n2n_tf import graph
from n2n_tf.config import Config, load_config, with_preprocess
from n2n_tf.io import load_teacher, strip_softmax
from n2n_tf.jobs.preamble import (
    begin,
    choose_preprocess,
    fit_teacher,
    load_data,
    prepare,
    score_candidates,
)
from n2n_tf.predictions import accuracy

logger = logging.getLogger(__name__)

# Shape and classes a zoo teacher is built with when no dataset is given (CIFAR-10).
ZOO_DEFAULT = ((32, 32, 3), 10)


def _row(spec) -> dict:
    return {
        "name": spec.name,
        "type": spec.type,
        "output_shape": list(spec.output_shape),
        "params": int(spec.params),
        "flops": int(spec.flops),
        "removable": bool(spec.removable),
        "shrinkable": bool(spec.shrinkable),
        "group": int(spec.group),
        "tied_to": spec.tied_to,
        "fixed_reason": spec.fixed_reason,
    }


def layer_table(model: keras.Model) -> dict:
    """The structural facts of ``graph.inspect`` as plain values (the JSON ``layers``).

    ``layers``: one row per layer the policies see (name, type, output shape,
    params, FLOPs, removable, shrinkable, channel group); ``fixed``: every
    layer the search keeps as it is, with the reason.
    """
    spec = graph.inspect(model)
    return {
        "name": spec.name,
        "params": int(spec.params),
        "flops": int(spec.flops),
        "layers": [_row(s) for s in spec.layers],
        "fixed": [
            {"name": s.name, "type": s.type, "reason": s.fixed_reason}
            for s in spec.all_layers
            if s.fixed_reason
        ],
    }


@dataclass
class InspectRequest:
    """Inspect ``teacher`` (a keras.Model, a model file or directory, or ``zoo:NAME``);
    with a ``dataset``, also score it (see ``inspect_teacher`` for the fields)."""

    teacher: object
    dataset: str | None = None
    preprocess: str | None = None
    config: Config | None = None
    safe_mode: bool = True
    architecture: str | None = None


@dataclass
class InspectResult:
    """The inspection as ``inspect_teacher`` returns it (``--json`` prints it)."""

    report: dict


def run(request: InspectRequest) -> InspectResult:
    """The ``inspect`` job."""
    return InspectResult(inspect_teacher(**vars(request)))


def inspect_teacher(
    teacher,
    dataset: str | None = None,
    *,
    preprocess: str | None = None,
    config: Config | None = None,
    safe_mode: bool = True,
    architecture: str | None = None,
) -> dict:
    """Inspects a teacher (model, file or ``zoo:NAME``); with a dataset, also scores it.

    Args:
        teacher: a keras.Model, a model file or directory, or ``zoo:NAME``.
        dataset: a dataset name; None inspects the structure only.
        preprocess: ``auto`` or one of ``data.MODES`` (default: the config's).
        config: data and runtime settings (default: the built-in defaults).
        safe_mode: refuse files that store Python code.
        architecture: the architecture JSON of a weights-only ``.h5``.

    Example:
        >>> report = n2n_tf.inspect("teacher.h5", "mnist5k", preprocess="auto")
        >>> report["preprocess"]["chosen"], report["accuracy"]["val"]

    Returns:
        ``params``, ``flops``, ``layers`` (see ``layer_table``), ``fixed``; with a
        dataset also ``preprocess`` = ``{"chosen", "candidates"}`` and
        ``accuracy`` = ``{"val", "test"}`` (fractions).
    """
    config = with_preprocess(config or load_config(None), preprocess)
    begin(config)
    data = None
    if dataset is not None:
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, dataset=dataset))
        data = load_data(config)
        shape, classes = data.info.input_shape, data.info.num_classes
    else:
        shape, classes = ZOO_DEFAULT
    if isinstance(teacher, keras.Model):
        model = strip_softmax(teacher)
    else:
        model = load_teacher(
            str(teacher),
            safe_mode,
            input_shape=shape if data is not None or str(teacher).startswith("zoo:") else None,
            num_classes=classes,
            architecture=architecture,
        )
    if data is None:
        return layer_table(model)
    model = fit_teacher(model, data)
    modes = data_lib.candidates(data.info.input_shape[-1])
    if config.data.preprocess == data_lib.AUTO:
        chosen, candidates = choose_preprocess(model, data)
    else:
        chosen, candidates = config.data.preprocess, score_candidates(model, data, modes)
    config = with_preprocess(config, chosen)
    prepared = prepare(model, data, config, force=True)
    out = layer_table(prepared.teacher)
    out["preprocess"] = {"chosen": chosen, "candidates": candidates}
    out["accuracy"] = {
        "val": prepared.check.val_accuracy,
        "test": accuracy(prepared.teacher, prepared.data.test),
    }
    out["floor"] = prepared.check.floor
    out["dataset"] = data.info.name
    return out
