"""State ports: values a model carries from one invoke to the next through its own inputs and
outputs (a transformer's KV cache), paired by name, and their values between invokes on the
host (the device keeps them in static memory: edgekit-rt's state arrays)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from edgekit.errors import ModelError


class Graph(Protocol):
    """What this module reads of a graph (edgekit.model.tflite_graph.Graph, which imports it)."""

    tensors: list[Any]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    state: tuple[StatePort, ...]

    def io_name(self, idx: int) -> str: ...

# An output named after an input plus this carries that input's value for the next invoke.
STATE_SUFFIX = "_next"


@dataclass(frozen=True)
class StatePort:
    """A value a model carries from one invoke to the next through its own inputs and outputs
    (a transformer's KV cache): graph input `input` reads it, graph output `output`, named
    `name` + STATE_SUFFIX, gives its next value. Not part of the I/O the device exchanges:
    it lives on the device, from its zero point (real 0.0) at reset."""

    name: str
    input: int
    output: int



def state_ports(graph: Graph, where: str) -> tuple[StatePort, ...]:
    """Pairs of graph input `X` and output `X_next` (StatePort); ModelError when such an output
    is not the same tensor type as its input, which it replaces at the next invoke."""
    ins = {graph.io_name(i): i for i in graph.inputs if 0 <= i < len(graph.tensors)}
    ports = []
    for o in graph.outputs:
        if not 0 <= o < len(graph.tensors):
            continue
        name = graph.io_name(o).removesuffix(STATE_SUFFIX)
        if name == graph.io_name(o) or name not in ins:
            continue
        a, b = graph.tensors[ins[name]], graph.tensors[o]
        qa = a.quant and (a.quant.scale.tolist(), a.quant.zero_point.tolist())
        qb = b.quant and (b.quant.scale.tolist(), b.quant.zero_point.tolist())
        if (a.shape, a.dtype, qa) != (b.shape, b.dtype, qb):
            raise ModelError(f"{where}: output '{graph.io_name(o)}' carries input '{name}' to the next "
                             f"invoke but is {b.dtype} {b.shape} (quantization {qb}) where the input is "
                             f"{a.dtype} {a.shape} (quantization {qa})",
                             hint=f"give a state output exactly its input's type, or rename it "
                                  f"(outputs named <input>{STATE_SUFFIX} carry state)")
        ports.append(StatePort(name, ins[name], o))
    if ports and len(ports) == len(graph.inputs):
        raise ModelError(f"{where}: every input is state carried by an output; the model needs "
                         "an input a caller feeds")
    return tuple(ports)


class CarriedState:
    """The values of a model's state ports between invokes (tflite_graph.StatePort), from each
    one's zero point (real 0.0) at reset, as edgekit_model_reset() leaves them on the device."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.values: dict[int, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        """Every state port back to real 0.0."""
        for sp in self.graph.state:
            t = self.graph.tensors[sp.input]
            zp = t.zero_point if t.quant is not None else 0
            self.values[sp.input] = np.full(t.shape, zp, dtype=t.dtype)

    def carry(self, output: Callable[[int], np.ndarray]) -> None:
        """After an invoke: each state output (read by `output(tensor index)`) becomes its input."""
        for sp in self.graph.state:
            self.values[sp.input] = output(sp.output).reshape(self.graph.tensors[sp.input].shape)


__all__ = ["STATE_SUFFIX", "CarriedState", "StatePort", "state_ports"]
