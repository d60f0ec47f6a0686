"""A model's inputs and outputs by name: which data arrays feed them, and the I/O blocks that
carry several of them to and from the device.

A port's name is the one a user gave it: the Keras Input's name and the output layer's name
for a model edgekit quantized (its signature), else the tensor's name. Data files name arrays
after them (edgekit.data.Dataset.model_inputs). The device takes all inputs as one block and returns all outputs as one
(iotypes.io_offsets); `pack` and `unpack` convert.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgekit.errors import DataError
from edgekit.model.tflite_graph import Graph, Tensor


@dataclass(frozen=True)
class Port:
    """One graph input or output: its name, tensor, and offset in the I/O block."""

    name: str
    tensor: Tensor
    offset: int


@dataclass(frozen=True)
class ModelIO:
    """The graph's inputs and outputs in graph order (edgekit's quantize puts them in Keras order)."""

    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    input_bytes: int
    output_bytes: int

    @classmethod
    def of(cls, graph: Graph) -> ModelIO:
        """The ports of `graph`."""
        def ports(which: str, idxs: tuple[int, ...]) -> tuple[tuple[Port, ...], int]:
            offsets, size = graph.io_block(which)
            return tuple(Port(graph.io_name(i), graph.tensors[i], off) for i, off in zip(idxs, offsets)), size

        ins, in_bytes = ports("input", graph.inputs)
        outs, out_bytes = ports("output", graph.outputs)
        return cls(ins, outs, in_bytes, out_bytes)

    @property
    def single(self) -> bool:
        """One input and one output."""
        return len(self.inputs) == 1 and len(self.outputs) == 1

    @property
    def input_names(self) -> list[str]:
        """Input names in graph order."""
        return [p.name for p in self.inputs]

    @property
    def output_names(self) -> list[str]:
        """Output names in graph order."""
        return [p.name for p in self.outputs]

    def pack(self, xq: list[np.ndarray]) -> np.ndarray:
        """Per-input device-typed arrays (leading sample axis) -> one input block per sample
        (n, input_bytes) uint8, each tensor at its offset, zero padding between."""
        n = len(xq[0])
        blocks = np.zeros((n, self.input_bytes), dtype=np.uint8)
        for port, arr in zip(self.inputs, xq):
            raw = np.ascontiguousarray(arr.astype(np.dtype(port.tensor.dtype).newbyteorder("<"))).reshape(n, -1)
            raw8 = raw.view(np.uint8)
            blocks[:, port.offset:port.offset + raw8.shape[1]] = raw8
        return blocks

    def unpack(self, block: bytes) -> list[np.ndarray]:
        """One output block -> each output in its type and sample shape."""
        if len(block) != self.output_bytes:
            raise DataError(f"the device returned {len(block)} output bytes, the model's outputs "
                            f"take {self.output_bytes}")
        outs = []
        for port in self.outputs:
            t = port.tensor
            dtype = np.dtype(t.dtype).newbyteorder("<")
            arr = np.frombuffer(block, dtype=dtype, count=int(np.prod(t.sample_shape, dtype=np.int64)),
                                offset=port.offset)
            outs.append(arr.astype(t.dtype).reshape(t.sample_shape))
        return outs


__all__ = ["ModelIO", "Port"]
