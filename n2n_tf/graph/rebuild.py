"""``rebuild``: teacher + ``Architecture`` -> student ``keras.Model``; ``estimate``: its size."""

from __future__ import annotations

import copy
import logging

import keras

from n2n_tf.graph.analysis import Analysis, analyse
from n2n_tf.graph.config_graph import Graph, rewire, to_config
from n2n_tf.graph.errors import SurgeryError
from n2n_tf.graph.inheritance import inherit_weights
from n2n_tf.graph.propagation import Propagation
from n2n_tf.graph.ranking import TeacherWeights, kept_channels
from n2n_tf.types import Architecture

logger = logging.getLogger(__name__)


def _student_graph(analysis: Analysis, prop: Propagation) -> Graph:
    structure, teacher_pass = analysis.structure, analysis.teacher_pass
    graph = Graph(f"{structure.graph.name}_student")
    mapping = {name: (target, 0) for name, target in prop.alias.items()}
    for name, node in structure.graph.nodes.items():
        if name in prop.alias:
            continue
        node = copy.deepcopy(node)
        if node.call is not None:
            rewire(node, mapping)
        out = prop.desc[name]
        if out.shape != teacher_pass.desc[name].shape or name in prop.widths:
            ins = [prop.desc[prop.resolve(p)] for p, _ in node.inputs]
            structure.rules[name].configure(node.entry["config"], ins, out)
        graph.nodes[name] = node
    graph.inputs = list(structure.graph.inputs)
    graph.outputs = [(prop.resolve(n), i) for n, i in structure.graph.outputs]
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


def rebuild(
    teacher: keras.Model,
    architecture: Architecture,
    inherit: bool = True,
    **options,
) -> keras.Model:
    """Builds the student that ``architecture`` describes.

    Pure: the teacher is never modified. Invalid architectures are rejected by
    shape arithmetic before any Keras object is built, and so are students with
    more trainable parameters than the teacher (not compressions; some removals
    make later layers wider).

    Args:
        teacher: a functional or Sequential model (nested models are flattened).
        architecture: layers to remove and width factors.
        inherit: copy the teacher's weights for kept layers and channels
            (channels ranked by L1 norm of the teacher's current weights);
            False keeps a fresh initialisation.
        **options: ``round_to``, ``protect``, ``allow_downsampling_removal``
            (see ``Structure``).

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
    structure = analysis.structure
    weights = TeacherWeights(structure)
    ranker = None
    if inherit:

        def ranker(group: int, k: int):
            return kept_channels(structure, group, k, weights)

    prop = analysis.propagate(architecture, ranker)
    graph = _student_graph(analysis, prop)
    student = _from_config(to_config(graph), graph)
    if inherit:
        fresh = inherit_weights(structure, analysis.teacher_pass, prop, student, weights)
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


__all__ = ["estimate", "rebuild"]
