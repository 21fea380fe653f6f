"""Copies the teacher's weights into a student, each sliced by its rule to the kept channels."""

from __future__ import annotations

import logging

import keras

from n2n_tf.graph.propagation import Propagation
from n2n_tf.graph.ranking import TeacherWeights
from n2n_tf.graph.structure import Structure

logger = logging.getLogger(__name__)


def inherit_weights(
    structure: Structure,
    teacher_pass: Propagation,
    prop: Propagation,
    student: keras.Model,
    weights: TeacherWeights,
) -> int:
    """Sets every kept layer's weights from the teacher's, sliced to the student's channels.

    Returns:
        The number of layers that keep a fresh initialisation (their inputs or
        outputs no longer index the teacher's channels, or the shapes differ).
    """
    fresh = 0
    for name in structure.order:
        if name in prop.alias or name not in structure.layers:
            continue
        t_layer = structure.layers[name]
        variables = getattr(t_layer, "weights", None)
        if not variables:
            continue
        node, rule = structure.node(name), structure.rules[name]
        s_layer = student.get_layer(name)
        producer = node.inputs[0][0]
        s_in, t_in = prop.desc[prop.resolve(producer)], teacher_pass.desc[producer]
        s_out, t_out = prop.desc[name], teacher_pass.desc[name]
        new = []
        arrays = weights.arrays(name)
        for variable, array, target in zip(variables, arrays, s_layer.weights, strict=True):
            leaf = variable.path.split("/")[-1]
            sliced = rule.slice_weight(node, leaf, array, s_in, t_in, s_out, t_out)
            if sliced is None or tuple(sliced.shape) != tuple(target.shape):
                new = None
                break
            new.append(sliced)
        if new is None:
            fresh += 1
            logger.debug("Layer %s keeps a fresh initialisation (shapes changed)", name)
        else:
            s_layer.set_weights(new)
    return fresh


__all__ = ["inherit_weights"]
