"""Reshaping a loaded teacher into what n2n-tf works on: one flat functional graph that
outputs logits and takes the dataset's images.

- ``flatten``: Sequential and nested models become one flat functional model.
- ``strip_head``: a softmax ending (Dense with softmax, ``Activation("softmax")``,
  ``Softmax``) or a 1-unit sigmoid head becomes logits.
- ``prepend``: leading layers (a Reshape for flat or channel-less inputs, the
  preprocessing baked into an export) put in front of a model, in the same flat graph.
"""

from __future__ import annotations

import contextlib
import copy
import logging

import keras
import numpy as np

from n2n_tf.graph.config_graph import Graph, Node, read, rewire, teacher_layer, to_config

logger = logging.getLogger(__name__)

SOFTMAX = "softmax"
SIGMOID = "sigmoid"
LOGITS = "logits"


def _build(config: dict, graph: Graph) -> keras.Model:
    unsafe = any(n.class_name == "Lambda" for n in graph.nodes.values())
    scope = contextlib.nullcontext()
    if unsafe:  # the model was loaded with safe_mode=False already
        from keras.src.saving.serialization_lib import SafeModeScope

        scope = SafeModeScope(False)
    with scope:
        return keras.Model.from_config(config)


def _copy_weights(source: keras.Model, graph: Graph, target: keras.Model) -> None:
    for node in graph.nodes.values():
        if node.class_name == "InputLayer":
            continue
        try:
            layer = teacher_layer(source, node)
        except (ValueError, KeyError):
            continue  # a layer added by n2n-tf (no counterpart in the source)
        weights = layer.get_weights()
        if weights:
            target.get_layer(node.name).set_weights(weights)


def rebuild_from(graph: Graph, source: keras.Model, name: str | None = None) -> keras.Model:
    """Builds ``graph`` as a new flat model and copies ``source``'s weights by layer."""
    config = to_config(graph)
    if name:
        config["name"] = name
    model = _build(config, graph)
    _copy_weights(source, graph, model)
    return model


def flatten(model: keras.Model) -> keras.Model:
    """A flat functional copy of a Sequential, functional or nested model (same weights)."""
    return rebuild_from(read(model), model, model.name)


def _head(model: keras.Model, graph: Graph) -> tuple[str, Node | None]:
    """``(kind, node)`` of the last layer when it is a softmax or 1-unit sigmoid ending."""
    if len(graph.outputs) != 1:
        return LOGITS, None
    node = graph.nodes[graph.outputs[0][0]]
    config = node.config
    activation = config.get("activation")
    units = int(model.output_shape[-1]) if model.output_shape[-1] is not None else 0
    if node.class_name == "Softmax" or (node.class_name == "Activation" and activation == SOFTMAX):
        return SOFTMAX, node
    if node.class_name == "Activation" and activation == SIGMOID and units == 1:
        return SIGMOID, node
    if "units" in config or "filters" in config:
        if activation == SOFTMAX:
            return SOFTMAX, node
        if activation == SIGMOID and units == 1:
            return SIGMOID, node
    return LOGITS, None


def strip_head(model: keras.Model) -> tuple[keras.Model, str]:
    """Returns ``(logits model, head)``; head is ``softmax``, ``sigmoid`` or ``logits``.

    A softmax's logits are its input; a 1-unit sigmoid's logit is its
    pre-activation (accuracy then thresholds it at 0). Other models come back
    as they are.
    """
    graph = read(model)
    head, node = _head(model, graph)
    if node is None:
        return model, LOGITS
    graph = copy.deepcopy(graph)
    node = graph.nodes[node.name]
    if node.class_name in ("Softmax", "Activation"):
        (producer,) = node.inputs
        del graph.nodes[node.name]
        graph.outputs = [producer]
    else:
        node.entry["config"]["activation"] = "linear"
    logits = rebuild_from(graph, model, model.name)
    logger.info("Teacher `%s` ends in a %s; n2n-tf uses its logits instead", model.name, head)
    return logits, head


def prepend(
    model: keras.Model, layers: list[keras.layers.Layer], input_shape: tuple, name: str = ""
) -> keras.Model:
    """``layers`` applied in order to a new input of ``input_shape``, then ``model``.

    The result is one flat functional model: the new layers sit between the
    input and what consumed it; the model's weights are copied over.
    """
    source = read(model)
    graph = copy.deepcopy(source)
    if len(graph.inputs) != 1:
        raise ValueError(
            f"Only single-input models are supported. Received: inputs={len(graph.inputs)}"
        )
    old_input = graph.inputs[0]
    stem_in = keras.Input(shape=tuple(input_shape), name=f"{name or 'n2n'}_input")
    x = stem_in
    for layer in layers:
        x = layer(x)
    stem = keras.Model(stem_in, x)
    stem_graph = read(stem)
    stem_weights = {
        n: stem.get_layer(n).get_weights() for n in stem_graph.nodes if n != stem_in.name
    }
    nodes: dict[str, Node] = {}
    for node_name, node in stem_graph.nodes.items():
        if node_name in graph.nodes:
            raise ValueError(f"Layer name `{node_name}` is already used by the model")
        nodes[node_name] = node
    last = stem_graph.outputs[0]
    for node in graph.nodes.values():
        if node.name == old_input:
            continue
        if node.call is not None:
            rewire(node, {old_input: last})
        nodes[node.name] = node
    graph.outputs = [last if n == old_input else (n, i) for n, i in graph.outputs]
    graph.nodes = nodes
    graph.inputs = [stem_in.name]
    out = _build(to_config(graph), graph)
    _copy_weights(model, source, out)
    for layer_name, weights in stem_weights.items():
        if weights:
            out.get_layer(layer_name).set_weights(weights)
    return out


def adapt_input(model: keras.Model, data_shape: tuple[int, ...]) -> keras.Model:
    """Puts a Reshape in front of a teacher whose input holds as many values as an image.

    Raises:
        ValueError: when the shapes cannot be matched, showing both.
    """
    want = tuple(int(d) for d in data_shape)
    have = tuple(model.input_shape[1:])
    if have == want:
        return model
    if None not in have and int(np.prod(have)) == int(np.prod(want)):
        logger.info(
            "The teacher takes inputs of shape %s and the dataset's images are %s: a leading "
            "Reshape is added (kept in the students and the export)",
            have,
            want,
        )
        return prepend(model, [keras.layers.Reshape(have, name="n2n_reshape")], want)
    raise ValueError(
        f"The teacher expects inputs of shape {have} but the dataset's images are {want}, and "
        f"they hold different numbers of values. Received: teacher_input={have}, data={want}"
    )
