"""A Keras 3 model as a list of layer calls, and rebuilding it with some layers replaced.

Pruning and low-rank factorization both make a new functional model whose layers are fresh
copies of the old ones (from their configs) with some layers changed: fewer units or filters,
or one layer split into two. `layer_calls` flattens a Sequential or functional model into
calls in execution order; `rebuild` replays them, asking a callback what to do with each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgekit.errors import ModelError


@dataclass(frozen=True)
class LayerCall:
    """One call of a layer in the model: the tensors (by id) it reads and the one it writes."""

    layer: Any
    inputs: tuple[int, ...]
    output: int


@dataclass(frozen=True)
class ModelGraph:
    """A single-input, single-output model as layer calls in execution order."""

    input: int
    output: int
    calls: tuple[LayerCall, ...]
    shapes: dict[int, tuple[int, ...]]      # tensor id -> shape without the batch axis

    def consumers(self, tensor: int) -> list[LayerCall]:
        """The calls that read `tensor`."""
        return [c for c in self.calls if tensor in c.inputs]


def layer_calls(model: Any) -> ModelGraph:
    """The calls of `model` (Sequential or functional, single input and output, each layer
    called once); ModelError for a shared layer or a nested model."""
    functional = getattr(model, "_functional", None) or model
    if len(functional.inputs) != 1 or len(functional.outputs) != 1:
        raise ModelError("compression needs a single-input, single-output model")
    calls: list[LayerCall] = []
    shapes: dict[int, tuple[int, ...]] = {}
    seen: set[int] = set()
    for depth in sorted(functional._nodes_by_depth, reverse=True):
        for node in functional._nodes_by_depth[depth]:
            layer = node.operation
            for t in (*node.input_tensors, *node.output_tensors):
                shapes[id(t)] = tuple(int(d) for d in t.shape[1:])
            if type(layer).__name__ == "InputLayer":
                continue
            if id(layer) in seen or len(node.output_tensors) != 1:
                raise ModelError(f"layer '{layer.name}' is shared or has several outputs: compression "
                                 "needs each layer called once")
            if hasattr(layer, "layers") and not hasattr(layer, "units"):
                raise ModelError(f"layer '{layer.name}' is a nested model: flatten it before compressing")
            seen.add(id(layer))
            calls.append(LayerCall(layer, tuple(id(t) for t in node.input_tensors), id(node.output_tensors[0])))
    return ModelGraph(id(functional.inputs[0]), id(functional.outputs[0]), tuple(calls), shapes)


# What a rebuild callback returns for a call: the new output tensor, given the new input tensors.
Replace = Callable[[LayerCall, list[Any]], Any]


def clone_layer(layer: Any, **changes: Any) -> Any:
    """A fresh, unbuilt layer of the same class from `layer`'s config with `changes` applied."""
    config = {**layer.get_config(), **changes}
    return type(layer).from_config(config)


def call_layer(layer: Any, inputs: list[Any]) -> Any:
    """Call `layer` on one tensor or, for merge layers, on the list."""
    return layer(inputs[0] if len(inputs) == 1 else inputs)


def rebuild(graph: ModelGraph, input_shape: tuple[int, ...], replace: Replace, name: str) -> Any:
    """A new functional model: each call's output comes from `replace(call, new_inputs)`."""
    import keras

    inp = keras.Input(input_shape, name="input")
    tensors: dict[int, Any] = {graph.input: inp}
    for call in graph.calls:
        tensors[call.output] = replace(call, [tensors[i] for i in call.inputs])
    return keras.Model(inp, tensors[graph.output], name=name)


def copy_call(call: LayerCall, inputs: list[Any]) -> Any:
    """The default of a rebuild: the same layer class and config, the same weights."""
    layer = clone_layer(call.layer)
    out = call_layer(layer, inputs)
    layer.set_weights(call.layer.get_weights())
    return out


__all__ = ["LayerCall", "ModelGraph", "layer_calls", "rebuild", "clone_layer", "call_layer", "copy_call", "Replace"]
