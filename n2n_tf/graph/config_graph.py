"""A flat, name-keyed view of a Keras functional graph, read from ``get_config``.

Nested models (Sequential or functional) are inlined so every node is a plain
layer; surgery edits this view and turns it back into a config for
``keras.Model.from_config``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import keras

MODEL_CLASSES = ("Functional", "Sequential", "Model")


@dataclass
class Node:
    """One layer call: its serialized layer and the producers of its inputs.

    ``inputs`` lists ``(producer_name, tensor_index)`` in call order;
    ``call`` is the inbound-node template (args/kwargs) whose tensors are
    replaced when the graph is written back.
    """

    name: str
    entry: dict
    inputs: list[tuple[str, int]]
    call: dict | None
    path: tuple[str, ...] = ()  # nested models that held it in the teacher
    original: str = ""  # its name inside that nested model

    @property
    def class_name(self) -> str:
        return self.entry["class_name"]

    @property
    def config(self) -> dict:
        return self.entry["config"]


@dataclass
class Graph:
    """Nodes in topological order plus the model's inputs and outputs."""

    name: str
    nodes: dict[str, Node] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    outputs: list[tuple[str, int]] = field(default_factory=list)

    def consumers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            for producer, _ in node.inputs:
                out[producer].append(node.name)
        return out


def _is_tensor(obj) -> bool:
    return isinstance(obj, dict) and obj.get("class_name") == "__keras_tensor__"


def _map_tensors(obj, fn):
    """Applies ``fn`` to every serialized KerasTensor inside args/kwargs."""
    if _is_tensor(obj):
        return fn(obj)
    if isinstance(obj, list):
        return [_map_tensors(o, fn) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_map_tensors(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: _map_tensors(v, fn) for k, v in obj.items()}
    return obj


def _histories(call: dict) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []

    def grab(t):
        found.append(tuple(t["config"]["keras_history"]))
        return t

    _map_tensors(call, grab)
    return found


def _refs(value) -> list[list]:
    """``["x", 0, 0]`` or ``[["x", 0, 0], ...]`` -> a list of references."""
    if not value:
        return []
    return [value] if isinstance(value[0], str) else list(value)


class _Flattener:
    def __init__(self, name: str):
        self.graph = Graph(name)
        self.used: set[str] = set()

    def unique(self, name: str, path: tuple[str, ...]) -> str:
        new = name if name not in self.used else "_".join((*path, name))
        while new in self.used:
            new += "_"
        self.used.add(new)
        return new

    def add(self, entry, name, inputs, call, path, original):
        entry = copy.deepcopy(entry)
        entry.pop("inbound_nodes", None)
        entry.pop("build_config", None)
        entry["name"] = name
        entry["config"]["name"] = name
        self.graph.nodes[name] = Node(name, entry, inputs, call, path, original)

    def sequential(self, config, inputs, path) -> list[tuple[str, int]]:
        layers = config["layers"]
        current = inputs
        for entry in layers:
            if entry["class_name"] == "InputLayer":
                if current is None:
                    name = self.unique(entry["config"]["name"], path)
                    self.add(entry, name, [], None, path, entry["config"]["name"])
                    self.graph.inputs.append(name)
                    current = [(name, 0)]
                continue
            if current is None:
                shape = config.get("build_input_shape")
                if not shape:
                    raise ValueError(
                        "A Sequential model without an input shape cannot be inspected; build "
                        "it with keras.Input first. Received: model=" + repr(config.get("name"))
                    )
                name = self.unique("input", path)
                self.add(
                    {
                        "module": "keras.layers",
                        "class_name": "InputLayer",
                        "config": {"batch_shape": list(shape), "name": name},
                        "registered_name": None,
                    },
                    name,
                    [],
                    None,
                    path,
                    name,
                )
                self.graph.inputs.append(name)
                current = [(name, 0)]
            current = self.layer(entry, current, None, path)
        return current

    def functional(self, config, inputs, path) -> list[tuple[str, int]]:
        renamed: dict[str, list[tuple[str, int]]] = {}
        input_names = [ref[0] for ref in _refs(config.get("input_layers"))]
        for entry in config["layers"]:
            lname = entry["name"]
            if entry["class_name"] == "InputLayer":
                if inputs is None:
                    name = self.unique(lname, path)
                    self.add(entry, name, [], None, path, lname)
                    self.graph.inputs.append(name)
                    renamed[lname] = [(name, 0)]
                else:
                    position = input_names.index(lname) if lname in input_names else 0
                    renamed[lname] = [inputs[position]]
                continue
            nodes = entry.get("inbound_nodes", [])
            if len(nodes) != 1:
                raise NotImplementedError(
                    f"Layer `{lname}` is called {len(nodes)} times in the model; shared layers "
                    "are not supported by surgery. Build the model with one call per layer. "
                    f"Received: layer='{lname}'"
                )
            call = nodes[0]

            def remap(t, renamed=renamed):
                src, _, index = t["config"]["keras_history"]
                new_name, new_index = renamed[src][index]
                t = copy.deepcopy(t)
                t["config"]["keras_history"] = [new_name, 0, new_index]
                return t

            call = _map_tensors(call, remap)
            refs = [(h[0], h[2]) for h in _histories(call)]
            renamed[lname] = self.layer(entry, refs, call, path)
        outs = _refs(config["output_layers"])
        return [renamed[o[0]][o[2]] for o in outs]

    def layer(self, entry, refs, call, path) -> list[tuple[str, int]]:
        if entry["class_name"] in MODEL_CLASSES or "layers" in entry.get("config", {}):
            sub = entry["config"]
            sub_path = (*path, sub.get("name", entry.get("name", "model")))
            if "input_layers" in sub:
                return self.functional(sub, refs, sub_path)
            return self.sequential(sub, refs, sub_path)
        original = entry.get("name") or entry["config"]["name"]
        name = self.unique(original, path)
        if call is None:
            call = {
                "args": [
                    {
                        "class_name": "__keras_tensor__",
                        "config": {
                            "shape": [None],
                            "dtype": "float32",
                            "keras_history": [refs[0][0], 0, refs[0][1]],
                        },
                    }
                ],
                "kwargs": {},
            }
        self.add(entry, name, list(refs), call, path, original)
        return [(name, 0)]


def read(model: keras.Model) -> Graph:
    """Reads a Sequential or functional model into a flat ``Graph``.

    Raises:
        ValueError: for subclassed models (no functional config).
        NotImplementedError: for shared layers.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"Expected a keras.Model. Received: model={type(model).__name__}")
    try:
        config = model.get_config()
    except Exception as err:  # subclassed models raise NotImplementedError or similar
        config = None
        reason = str(err)
    else:
        reason = "its config has no layers"
    if not config or "layers" not in config:
        raise ValueError(
            f"Model `{model.name}` is a subclassed Keras model ({reason[:120]}); surgery needs "
            "the layer graph. Build the model functionally (keras.Input -> layers -> "
            f"keras.Model) or as keras.Sequential. Received: model='{model.name}'"
        )
    flattener = _Flattener(model.name)
    if "input_layers" in config:
        outs = flattener.functional(config, None, ())
    else:
        outs = flattener.sequential(config, None, ())
    flattener.graph.outputs = outs
    return flattener.graph


def to_config(graph: Graph) -> dict:
    """Writes a ``Graph`` back as a functional model config."""
    layers = []
    for node in graph.nodes.values():
        entry = copy.deepcopy(node.entry)
        entry["name"] = node.name
        entry["inbound_nodes"] = [node.call] if node.call is not None else []
        layers.append(entry)
    return {
        "name": graph.name,
        "trainable": True,
        "layers": layers,
        "input_layers": _unwrap([[name, 0, 0] for name in graph.inputs]),
        "output_layers": _unwrap([[name, 0, index] for name, index in graph.outputs]),
    }


def _unwrap(refs: list[list]):
    """A single input/output is written as one reference, as Keras does."""
    return refs[0] if len(refs) == 1 else refs


def rewire(node: Node, mapping: dict[str, tuple[str, int]]) -> None:
    """Points ``node``'s inputs at new producers (``old_name -> (new_name, index)``)."""

    def fix(t):
        src, _, index = t["config"]["keras_history"]
        if src in mapping:
            t = copy.deepcopy(t)
            new_name, new_index = mapping[src]
            t["config"]["keras_history"] = [new_name, 0, new_index]
        return t

    node.call = _map_tensors(node.call, fix)
    node.inputs = [(h[0], h[2]) for h in _histories(node.call)]


def teacher_layer(model: keras.Model, node: Node) -> keras.layers.Layer:
    """The teacher's layer object behind a (possibly inlined) node."""
    holder = model
    for name in node.path:
        holder = holder.get_layer(name)
    if node.class_name == "InputLayer":
        raise RuntimeError(f"Internal error: input layer `{node.name}` has no layer object")
    return holder.get_layer(node.original or node.name)


def input_shapes(node: Node) -> list[tuple | None]:
    """The teacher's shapes (no batch axis) of a node's input tensors, as its call recorded them."""
    shapes: list[tuple | None] = []

    def grab(t):
        shape = t["config"].get("shape")
        shapes.append(tuple(shape[1:]) if shape and len(shape) > 1 else None)
        return t

    _map_tensors(node.call or {}, grab)
    return shapes


def call_constants(node: Node) -> list:
    """The non-tensor positional arguments of a node's call (``3.0`` in ``x + 3.0``)."""
    args = (node.call or {}).get("args", [])
    return [a for a in args if not _is_tensor(a) and not isinstance(a, (list, tuple))]


def layer_objects(model: keras.Model, graph: Graph) -> dict[str, object]:
    """The teacher's layer or operation object behind every non-input node, by node name.

    Operations (``x + 3.0`` in a functional graph) are not layers: they are found
    in ``model.operations``.
    """
    holders: dict[tuple[str, ...], dict[str, object]] = {}

    def objects(path: tuple[str, ...]) -> dict[str, object]:
        if path not in holders:
            holder = model
            for name in path:
                holder = holder.get_layer(name)
            ops = getattr(holder, "operations", None)  # Sequential has layers only
            holders[path] = {op.name: op for op in (ops if ops is not None else holder.layers)}
        return holders[path]

    found = {}
    for name, node in graph.nodes.items():
        if node.class_name == "InputLayer":
            continue
        table = objects(node.path)
        key = node.original or node.name
        if key not in table:
            raise RuntimeError(f"Internal error: no layer or operation named `{key}`")
        found[name] = table[key]
    return found


__all__ = [
    "Graph",
    "Node",
    "call_constants",
    "input_shapes",
    "layer_objects",
    "read",
    "rewire",
    "teacher_layer",
    "to_config",
]
