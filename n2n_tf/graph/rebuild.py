"""Build a student from a teacher and an ``Architecture``, inheriting weights."""

from __future__ import annotations

import copy
import logging
import weakref

import keras
import numpy as np

from n2n_tf.graph import rules as R
from n2n_tf.graph.analysis import Analysis, Propagation
from n2n_tf.graph.config_graph import Graph, rewire, to_config
from n2n_tf.graph.errors import SurgeryError
from n2n_tf.types import Architecture

logger = logging.getLogger(__name__)

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def analyse(teacher: keras.Model, **options) -> Analysis:
    """The (cached) ``Analysis`` of a teacher; options as in ``Analysis``."""
    key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))
    per_model = _CACHE.setdefault(teacher, {})
    if key not in per_model:
        per_model[key] = Analysis(teacher, **options)
    return per_model[key]


def _student_graph(analysis: Analysis, prop: Propagation) -> Graph:
    graph = Graph(f"{analysis.graph.name}_student")
    mapping = {name: (target, 0) for name, target in prop.alias.items()}
    for name, node in analysis.graph.nodes.items():
        if name in prop.alias:
            continue
        node = copy.deepcopy(node)
        if node.call is not None:
            rewire(node, mapping)
        rule = analysis.rules[name]
        if rule is not None and rule.width_key and name in prop.widths:
            node.entry["config"][rule.width_key] = int(prop.widths[name])
        graph.nodes[name] = node
    graph.inputs = list(analysis.graph.inputs)
    graph.outputs = [(prop.alias.get(n, n), i) for n, i in analysis.graph.outputs]
    return graph


def _from_config(config: dict, graph: Graph) -> keras.Model:
    needs_unsafe = any(n.class_name == "Lambda" for n in graph.nodes.values())
    try:
        if needs_unsafe:
            from keras.src.saving.serialization_lib import SafeModeScope

            with SafeModeScope(False):
                return keras.Model.from_config(config)
        return keras.Model.from_config(config)
    except Exception as err:
        raise SurgeryError(
            f"The student graph could not be built by Keras ({type(err).__name__}: "
            f"{str(err)[:300]})."
        ) from err


def _inherit(analysis: Analysis, prop: Propagation, student: keras.Model) -> int:
    """Copies the teacher's weights into the student, slicing kept channels.

    Returns:
        The number of layers that had to keep a fresh initialisation.
    """
    teacher_pass = analysis.teacher_pass
    fresh = 0
    for name, node in analysis.graph.nodes.items():
        if name in prop.alias or name not in analysis.layers:
            continue
        t_layer = analysis.layers[name]
        if not t_layer.weights:
            continue
        s_layer = student.get_layer(name)
        rule = analysis.rules[name]
        arrays = t_layer.get_weights()
        producer = node.inputs[0][0]
        s_in = prop.desc[prop.alias.get(producer, producer)]
        t_in = teacher_pass.desc[producer]
        s_out, t_out = prop.desc[name], teacher_pass.desc[name]
        new = []
        for array, variable, target in zip(arrays, t_layer.weights, s_layer.weights, strict=True):
            in_axis, out_axis = (
                R.weight_axes(rule, variable.path, array.ndim) if rule else (None, None)
            )
            if in_axis is not None and s_in.key == t_in.key:
                array = np.take(array, s_in.idx, axis=in_axis)
            elif in_axis is not None and array.shape[in_axis] != 0:
                array = None
            if array is not None and out_axis is not None:
                array = np.take(array, s_out.idx, axis=out_axis) if s_out.key == t_out.key else None
            if array is None or tuple(array.shape) != tuple(target.shape):
                new = None
                break
            new.append(array)
        if new is None:
            fresh += 1
            logger.debug("Layer %s keeps a fresh initialisation (shapes changed)", name)
        else:
            s_layer.set_weights(new)
    return fresh


def rebuild(
    teacher: keras.Model,
    architecture: Architecture,
    inherit: bool = True,
    **options,
) -> keras.Model:
    """Builds the student that ``architecture`` describes.

    Pure: the teacher is never modified. Invalid architectures are rejected by
    shape arithmetic before any Keras object is built.

    Args:
        teacher: a functional or Sequential model (nested models are flattened).
        architecture: layers to remove and width factors.
        inherit: copy the teacher's weights for kept layers and channels
            (channels ranked by L1 norm); False keeps a fresh initialisation.
        **options: ``round_to``, ``protect``, ``allow_downsampling_removal``
            (see ``Analysis``).

    Returns:
        A new functional ``keras.Model``.

    Raises:
        SurgeryError: the architecture does not give a working model.
        NotImplementedError: the teacher uses shared layers.
        ValueError: the teacher is subclassed.

    Example:
        >>> student = rebuild(teacher, Architecture(factors={"block1_conv1": 0.5}))
    """
    analysis = analyse(teacher, **options)
    prop = analysis.propagate(architecture)
    graph = _student_graph(analysis, prop)
    student = _from_config(to_config(graph), graph)
    if inherit:
        fresh = _inherit(analysis, prop, student)
        if fresh:
            logger.debug("%d layer(s) of the student start from a fresh initialisation", fresh)
    return student


def estimate(teacher: keras.Model, architecture: Architecture, **options) -> tuple[int, int]:
    """``(trainable params, multiply-adds)`` of a student, without building it.

    Raises:
        SurgeryError: the architecture does not give a working model.
    """
    prop = analyse(teacher, **options).propagate(architecture)
    return prop.params, prop.flops
