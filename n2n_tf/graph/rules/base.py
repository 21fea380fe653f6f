"""``Rule``: how one layer type treats channels, and the registry that finds it by class MRO.

A rule knows how channels flow through its layer (``flow``), the output shape
and kept channels of a student tensor (``output``), the layer's parameters and
multiply-adds for given widths, how to edit its config for a new width, which
weight axes follow the input or output channels (``slice_weight``), and how its
output channels are ranked (``scores``). Built-in rules live in the sibling
modules; ``register_rule`` adds users' own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np

from n2n_tf.graph.channels import Desc, take
from n2n_tf.graph.config_graph import Node
from n2n_tf.graph.errors import SurgeryError

# How a layer's output channels relate to its inputs' (the structure pass reads this).
INPUT = "input"  # a model input
OWN = "own"  # a weight layer that defines a new, shrinkable channel space (Conv2D, Dense)
FOLLOW = "follow"  # the channels of the first input (ReLU, BN, pooling, depthwise)
MERGE = "merge"  # element-wise over several inputs whose channels are tied (Add, Multiply)
DERIVED = "derived"  # a function of its inputs' channels (Flatten, Concatenate, x depth_multiplier)
OPAQUE = "opaque"  # channels n2n-tf cannot follow: kept as is (unknown layers)


@dataclass
class Step:
    """What a rule sees of one layer call during a pass over an architecture.

    Attributes:
        name: the layer's name in the flat graph.
        node: its serialized layer and inputs.
        layer: the teacher's layer (or operation) object.
        ins: the student's input tensors.
        teacher_ins: the teacher's tensors of all the layer's inputs (None during the
            teacher's own pass; longer than ``ins`` when a removal dropped an input).
        teacher_out: the teacher's output tensor (None during the teacher's own pass).
        group: the channel group of the layer's output.
        width: the output width chosen for an ``OWN`` layer.
        kept: the teacher channels an ``OWN`` layer keeps.
    """

    name: str
    node: Node
    layer: object
    ins: list[Desc]
    teacher_ins: list[Desc] | None
    teacher_out: Desc | None
    group: int
    width: int | None = None
    kept: np.ndarray | None = None

    @property
    def config(self) -> dict:
        return self.node.config

    @property
    def first(self) -> Desc:
        return self.ins[0]


def as_tuple(value, n: int = 2) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * n


def positions(shape: tuple) -> int:
    """Spatial positions of a tensor (the product of all but the channel axis)."""
    return int(math.prod(d for d in shape[:-1] if d is not None))


def trainable_count(layer) -> int:
    weights = getattr(layer, "trainable_weights", None) or []
    return int(sum(math.prod(w.shape) for w in weights))


class Rule:
    """How one layer type treats channels; subclass it for your own layers.

    Class attributes:
        flow: one of ``INPUT``, ``OWN``, ``FOLLOW``, ``MERGE``, ``DERIVED``, ``OPAQUE``.
        kind: for weight layers the search may remove or shrink, their category
            (``conv``, ``dense``, ``depthwise``, ``separable``); None otherwise.
        width_key: the config key of an ``OWN`` layer's output width.
        attachable: removed together with the weight layer it directly follows
            (BatchNormalization, activations).
    """

    flow: str = FOLLOW
    kind: str | None = None
    width_key: str | None = None
    attachable: bool = False

    # ------------------------------------------------------------- structure
    def flow_of(self, node: Node) -> str:
        """The flow of one call of the layer (may depend on its config)."""
        return self.flow

    def collapsible(self, node: Node) -> bool:
        """Whether an input whose branch was removed entirely is dropped (a residual
        Add collapses to its shortcut, a DenseNet Concatenate to its first input)."""
        return False

    def granularity(self, node: Node) -> int:
        """Output channels are kept in equal numbers in this many contiguous blocks."""
        return 1

    def fixed_reason(self, node: Node) -> str | None:
        """Why the channels of this layer's output may not change (None: they may)."""
        return None

    def input_reason(self, node: Node) -> str | None:
        """Why the channels of this layer's inputs may not change (None: they may)."""
        return None

    # ------------------------------------------------------------------ pass
    def output_shape(self, step: Step, in_shape: tuple) -> tuple:
        """The output shape (no batch axis) for an input shape, from the Keras layer."""
        layer = step.layer
        try:
            try:
                shape = layer.compute_output_shape((None, *in_shape))
            except NotImplementedError:  # custom layers: trace the call symbolically
                spec = layer.compute_output_spec(keras.KerasTensor((None, *in_shape)))
                shape = spec.shape
        except Exception as err:
            raise SurgeryError(
                f"Layer `{step.name}` ({type(layer).__name__}) cannot take an input of shape "
                f"{in_shape}: {err}. Received: layer='{step.name}'"
            ) from err
        return tuple(shape[1:])

    def output(self, step: Step) -> Desc:
        """The student's output tensor (raises ``SurgeryError`` if it cannot be built)."""
        first = step.first
        return Desc(self.output_shape(step, first.shape), first.key, first.idx)

    def params(self, step: Step, out: Desc) -> int:
        """Trainable parameters of the student layer (default: the teacher's)."""
        return trainable_count(step.layer)

    def flops(self, step: Step, out: Desc) -> int:
        """Multiply-adds of one forward pass (counted for weight layers only)."""
        return 0

    def configure(self, config: dict, ins: list[Desc], out: Desc) -> None:
        """Edits the student layer's config in place for its new widths."""
        if self.width_key is not None:
            config[self.width_key] = int(out.shape[-1])

    # ---------------------------------------------------------------- weights
    def axes(self, node: Node, leaf: str, rank: int) -> tuple[int | None, int | None]:
        """``(in_axis, out_axis)`` of the weight named ``leaf`` (None: not sliced)."""
        return (None, None)

    def slice_weight(
        self,
        node: Node,
        leaf: str,
        array: np.ndarray,
        s_in: Desc,
        t_in: Desc,
        s_out: Desc,
        t_out: Desc,
    ) -> np.ndarray | None:
        """The teacher's weight ``leaf`` sliced to the student's channels (None: re-initialise).

        ``s_in``/``t_in`` describe the layer's first input in the student and the
        teacher, ``s_out``/``t_out`` its output; by default the axes from
        ``axes`` are sliced with ``channels.take``.
        """
        in_axis, out_axis = self.axes(node, leaf, array.ndim)
        if in_axis is not None:
            array = take(array, in_axis, s_in, t_in)
            if array is None:
                return None
        if out_axis is not None:
            array = take(array, out_axis, s_out, t_out)
        return array

    def scores(self, node: Node, weights: dict[str, np.ndarray]) -> np.ndarray | None:
        """L1 norm per output channel of an ``OWN`` layer (None: nothing to rank by)."""
        return None


class UnknownRule(Rule):
    """A layer with no rule: kept as is, and its inputs may not change."""

    flow = OPAQUE

    def fixed_reason(self, node: Node) -> str:
        return f"no surgery rule for {node.class_name}: kept as is"

    def input_reason(self, node: Node) -> str:
        return f"feeds `{node.name}` ({node.class_name}), which has no surgery rule"

    def output(self, step: Step) -> Desc:
        if step.teacher_ins is None:
            layer = step.layer
            try:
                shape = tuple(layer.output.shape[1:])
            except Exception:  # a layer called in several models has no single output
                shapes = [(None, *d.shape) for d in step.ins]
                shape = tuple(layer.compute_output_shape(shapes[0] if len(shapes) == 1 else shapes))
                shape = shape[1:]
            return Desc(shape, ("g", step.group), np.arange(shape[-1] if shape else 1))
        same = all(
            a.shape == b.shape and a.key == b.key and np.array_equal(a.idx, b.idx)
            for a, b in zip(step.ins, step.teacher_ins, strict=True)
        )
        if not same:
            raise SurgeryError(
                f"Layer `{step.name}` ({step.node.class_name}) is not supported by surgery and "
                f"its input would change; supported layers: {', '.join(supported())}. "
                f"Received: layer='{step.name}'"
            )
        return step.teacher_out


class InputRule(Rule):
    flow = INPUT

    def fixed_reason(self, node: Node) -> str:
        return "model input"

    def output(self, step: Step) -> Desc:
        shape = tuple(step.config["batch_shape"][1:])
        return Desc(shape, ("g", step.group), np.arange(shape[-1]))


UNKNOWN = UnknownRule()
INPUT_RULE = InputRule()
_RULES: dict[type, Rule] = {}
VERSION = 0  # changes whenever the registry does (part of the analysis cache key)


def register_rule(layer_class: type, rule: Rule) -> None:
    """Tells surgery how ``layer_class`` (and its subclasses) treat channels.

    Rules are found through ``type(layer).__mro__``, so a subclass of a
    registered class uses its parent's rule unless it has its own.

    Args:
        layer_class: a ``keras.layers.Layer`` subclass (or a Keras operation class).
        rule: a ``Rule`` instance (e.g. ``PassRule()`` for a layer that keeps
            its input's channels, ``ChannelwiseRule()`` for per-channel weights).

    Raises:
        ValueError: if ``layer_class`` is not a class or ``rule`` not a ``Rule``.

    Example:
        >>> n2n_tf.graph.register_rule(MyScale, n2n_tf.graph.rules.ChannelwiseRule())
    """
    if not isinstance(layer_class, type):
        raise ValueError(f"Expected a layer class. Received: layer_class={layer_class!r}")
    if not isinstance(rule, Rule):
        raise ValueError(f"Expected a Rule instance. Received: rule={rule!r}")
    _RULES[layer_class] = rule
    _bump()  # analyses made before the rule existed are stale


def unregister_rule(layer_class: type) -> None:
    """Removes a rule added by ``register_rule`` (no error if there is none)."""
    _RULES.pop(layer_class, None)
    _bump()


def _bump() -> None:
    global VERSION
    VERSION += 1


def rule_for(layer: object) -> Rule:
    """The rule of a layer object: the first class of its MRO with one, else ``UNKNOWN``."""
    for cls in type(layer).__mro__:
        rule = _RULES.get(cls)
        if rule is not None:
            return rule
    return UNKNOWN


def supported() -> list[str]:
    """Names of the layer classes surgery understands."""
    return sorted({cls.__name__ for cls in _RULES})
