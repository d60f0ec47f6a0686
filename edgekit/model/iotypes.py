"""Element types a model's input and output may have on the device: the one table the model
header (C type, protocol code), the firmware, the protocol's INFO reply and the host harness
share.

Inputs and outputs travel as the tensor's raw bytes, little-endian (every supported MCU is
little-endian). Quantized types (int8, uint8, int16) carry real values through a scale and
zero point; int32 carries integers as they are (token ids); float32 carries real values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgekit.errors import ModelError


@dataclass(frozen=True)
class IoType:
    """One element type of a model input/output."""

    name: str        # numpy dtype name, as tflite_graph.Tensor.dtype spells it
    code: int        # the dtype code of the protocol's INFO reply (docs/protocol.md 4.2)
    ctype: str       # C type in edgekit_model.h
    quantized: bool  # real = scale * (q - zero_point); False: values are sent as they are

    @property
    def numpy(self) -> np.dtype:
        """The little-endian numpy dtype of the wire bytes."""
        return np.dtype(self.name).newbyteorder("<")

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return np.dtype(self.name).itemsize

    def bounds(self) -> tuple[int, int]:
        """Smallest and largest value of an integer type."""
        info = np.iinfo(np.dtype(self.name))
        return int(info.min), int(info.max)


IO_TYPES: dict[str, IoType] = {t.name: t for t in (
    IoType("int8", 1, "int8_t", True),
    IoType("uint8", 2, "uint8_t", True),
    IoType("int16", 3, "int16_t", True),
    IoType("float32", 4, "float", False),
    IoType("int32", 5, "int32_t", False),
)}
BY_CODE: dict[int, IoType] = {t.code: t for t in IO_TYPES.values()}


def io_type(dtype: str, *, what: str = "model input") -> IoType:
    """The IoType of a tensor dtype name; ModelError for a type the firmware cannot carry."""
    try:
        return IO_TYPES[dtype]
    except KeyError:
        raise ModelError(f"the {what} is {dtype}; the firmware carries {', '.join(IO_TYPES)}",
                         hint="convert with inference_input_type/inference_output_type int8") from None


# Several inputs (outputs) travel as one block: each tensor's bytes at a 4-byte aligned offset,
# in the graph's order, zero padding between. The model API's input/output pointers, INFER's
# payload and reply, and the host harness all use this layout (docs/firmware-model-api.md).
IO_ALIGN = 4


def io_offsets(nbytes: Sequence[int]) -> tuple[list[int], int]:
    """Offsets of tensors of `nbytes` bytes in an I/O block, and the block's size (the last
    tensor unpadded: one tensor's block is exactly its bytes)."""
    offsets, end = [], 0
    for n in nbytes:
        start = (end + IO_ALIGN - 1) // IO_ALIGN * IO_ALIGN
        offsets.append(start)
        end = start + n
    return offsets, end


__all__ = ["BY_CODE", "IO_ALIGN", "IO_TYPES", "IoType", "io_offsets", "io_type"]
