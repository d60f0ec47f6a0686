"""Read a .tflite flatbuffer into a small, plain graph representation.

Reads the schema directly (the `tflite` package) instead of going through an interpreter,
so models that LiteRT refuses for quantization quirks can still be inspected and compiled.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tflite

from edgekit.errors import EdgekitError, InputFileError, ModelError
from edgekit.model.state import StatePort, state_ports

# TensorType enum value -> numpy dtype name (only the types an MCU model can carry).
_TENSOR_TYPES: dict[int, str] = {
    tflite.TensorType.FLOAT32: "float32",
    tflite.TensorType.FLOAT16: "float16",
    tflite.TensorType.INT32: "int32",
    tflite.TensorType.UINT8: "uint8",
    tflite.TensorType.INT64: "int64",
    tflite.TensorType.BOOL: "bool",
    tflite.TensorType.INT16: "int16",
    tflite.TensorType.INT8: "int8",
    tflite.TensorType.FLOAT64: "float64",
    tflite.TensorType.UINT32: "uint32",
    tflite.TensorType.UINT16: "uint16",
    tflite.TensorType.INT4: "int4",
}
# The schema's other types (string, resource, variant...): read, never run by edgekit.
_OTHER_TYPES = {v: k.lower() for k, v in vars(tflite.TensorType).items()
                if not k.startswith("_") and v not in _TENSOR_TYPES}
_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_OPTION_NAMES = {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}
_ACTIVATIONS = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")}
_PADDINGS = {v: k for k, v in vars(tflite.Padding).items() if not k.startswith("_")}


@dataclass
class Quantization:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel."""

    scale: np.ndarray  # float32, length 1 (per tensor) or channels
    zero_point: np.ndarray  # int64, same length
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        """Whether there is one scale per channel (along `axis`) rather than one for the tensor."""
        return self.scale.size > 1


@dataclass
class Tensor:
    """One tensor of the graph: shape, dtype, quantization, and its data when it is a constant."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: Quantization | None
    data: np.ndarray | None  # constant data (weights, biases, shapes) or None for activations
    is_variable: bool = False

    @property
    def size(self) -> int:
        """Number of elements (1 for a scalar)."""
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample: without the leading batch axis, where there is one (rank 1
        tensors have none: TFLM's audio front end outputs (40,))."""
        return self.shape[1:] if len(self.shape) > 1 else self.shape

    @property
    def nbytes(self) -> int:
        """Size of the elements in bytes (int4 and bool counted as one byte each)."""
        return self.size * _itemsize(self.dtype)

    @property
    def is_constant(self) -> bool:
        """Whether the model file holds the tensor's data (weights, biases, shapes)."""
        return self.data is not None

    @property
    def scale(self) -> float:
        """The scale of a per-tensor quantized tensor (ModelError otherwise)."""
        return float(self._per_tensor_quant().scale[0])

    @property
    def zero_point(self) -> int:
        """The zero point of a per-tensor quantized tensor (ModelError otherwise)."""
        return int(self._per_tensor_quant().zero_point[0])

    def _per_tensor_quant(self) -> Quantization:
        if self.quant is None:
            raise ModelError(f"tensor {self.index} '{self.name}' has no quantization parameters",
                             hint="quantize the model to full int8 (`edgekit quantize`)")
        if self.quant.per_channel:
            raise ModelError(f"tensor {self.index} '{self.name}' is quantized per channel "
                             f"({self.quant.scale.size} scales) where one scale is needed",
                             hint="quantize this tensor per tensor")
        return self.quant


@dataclass
class Operator:
    """One operator of the graph: builtin name, input and output tensor indices, decoded options."""

    index: int
    op: str  # builtin operator name, e.g. "CONV_2D", or "CUSTOM:<code>"
    inputs: tuple[int, ...]  # tensor indices; -1 marks an omitted optional input
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1


@dataclass
class Graph:
    """The main subgraph of a .tflite model. `inputs` and `outputs` are what a caller feeds
    and reads; the subgraph's other inputs and outputs are `state` pairs."""

    path: Path | None
    sha256: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraph_count: int
    description: str
    data: bytes = field(default=b"", repr=False, compare=False)  # the .tflite bytes it was read from
    # Names the model's signature gives graph inputs/outputs (tensor index -> name): the Keras
    # Input and output names of a model edgekit quantized. Empty without a signature.
    signature_names: dict[int, str] = field(default_factory=dict)
    state: tuple[StatePort, ...] = ()
    # Every input and output of the subgraph in its order (interpreters address them so).
    subgraph_inputs: tuple[int, ...] = ()
    subgraph_outputs: tuple[int, ...] = ()

    @property
    def input_tensors(self) -> list[Tensor]:
        """The graph's input tensors, in order."""
        return [self.tensors[i] for i in self.inputs]

    @property
    def output_tensors(self) -> list[Tensor]:
        """The graph's output tensors, in order."""
        return [self.tensors[i] for i in self.outputs]

    def io_block(self, which: str) -> tuple[list[int], int]:
        """Offsets of the graph's inputs (which="input") or outputs in the I/O block that carries
        them, and the block's size (iotypes.io_offsets)."""
        from edgekit.model.iotypes import io_offsets

        tensors = self.input_tensors if which == "input" else self.output_tensors
        return io_offsets([t.nbytes for t in tensors])

    @property
    def keeps_state(self) -> bool:
        """Whether an invoke leaves state for the next (variable tensors: recurrent state)."""
        return any(t.is_variable for t in self.tensors)

    def io_name(self, idx: int) -> str:
        """The name of graph input/output tensor `idx` as a user knows it: its signature name,
        else the tensor's name without TF's "serving_default_" prefix and ":0" suffix."""
        if idx in self.signature_names:
            return self.signature_names[idx]
        name = self.tensors[idx].name.removeprefix("serving_default_")
        return name.rsplit(":", 1)[0] if re.fullmatch(r".*:\d+", name) else name

    def edge_quantized(self, idx: int) -> Tensor | None:
        """The quantized tensor carrying graph input/output `idx` inside the model: the tensor
        itself when quantized; for a float32 one, the output of the QUANTIZE it feeds (input)
        or the input of the DEQUANTIZE that makes it (output); else None."""
        t = self.tensors[idx]
        if t.quant is not None:
            return t
        for op in self.operators:
            if op.op == "QUANTIZE" and op.inputs[:1] == (idx,):
                return self.tensors[op.outputs[0]]
            if op.op == "DEQUANTIZE" and op.outputs[:1] == (idx,):
                return self.tensors[op.inputs[0]]
        return None

    def op_names(self) -> list[str]:
        """Distinct operator names in first-use order."""
        return list(dict.fromkeys(op.op for op in self.operators))


def _itemsize(dtype: str) -> int:
    """Bytes per element; 1 for int4, bool and the types numpy has no size for (string, resource)."""
    if dtype in ("int4", "bool"):
        return 1
    try:
        return np.dtype(dtype).itemsize
    except TypeError:
        return 1


def _options(op: Any) -> dict[str, Any]:
    """Decode an operator's builtin options table into a dict of snake_case scalars."""
    name = _OPTION_NAMES.get(op.BuiltinOptionsType(), "NONE")
    table = op.BuiltinOptions()
    if name == "NONE" or table is None or not hasattr(tflite, name):
        return {}
    opts = getattr(tflite, name)()
    opts.Init(table.Bytes, table.Pos)
    out: dict[str, Any] = {}
    for attr in dir(opts):
        if attr.startswith("_") or attr in ("Init",) or attr.startswith("GetRootAs") or \
                attr.endswith(("BufferHasIdentifier", "IsNone", "Length", "AsNumpy")):
            continue
        method = getattr(opts, attr)
        try:
            value = method()
        except TypeError:
            continue  # vector accessor taking an index: read via AsNumpy below
        if hasattr(opts, attr + "AsNumpy"):
            arr = getattr(opts, attr + "AsNumpy")()
            value = [] if isinstance(arr, int) else [int(v) for v in arr]
        key = "".join("_" + c.lower() if c.isupper() else c for c in attr).lstrip("_")
        if key == "fused_activation_function":
            value = _ACTIVATIONS.get(value, str(value))
        elif key == "padding":
            value = _PADDINGS.get(value, str(value))
        out[key] = value
    return out


def _quantization(t: Any, shape: tuple[int, ...]) -> Quantization | None:
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return None
    scale = np.asarray(q.ScaleAsNumpy(), dtype=np.float32).reshape(-1)
    zp = q.ZeroPointAsNumpy()
    zero_point = np.zeros_like(scale, dtype=np.int64) if isinstance(zp, int) else \
        np.asarray(zp, dtype=np.int64).reshape(-1)
    axis = q.QuantizedDimension()
    if len(shape) == 1 and scale.size == shape[0]:
        # A 1-D tensor's channels lie on axis 0. Older converters wrote the weight's channel
        # axis (3) on per-channel biases (TFLM's person_detect.tflite); TFLM ignores it.
        axis = 0
    return Quantization(scale=scale, zero_point=zero_point, axis=axis)


def load_graph(path: Path | str) -> Graph:
    """Read `path`; clear errors for a missing file or one that is not a .tflite model."""
    path = Path(path)
    try:
        buf = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"model file not found: {path}") from None
    except OSError as exc:
        raise InputFileError(f"cannot read model file {path}: {exc.strerror}") from None
    return parse_graph(buf, path)


def parse_graph(buf: bytes, path: Path | None = None) -> Graph:
    """Parse .tflite bytes (`path` only names them in errors); InputFileError or ModelError when unusable.

    The flatbuffer is checked before use (see check_graph): indices in range, shapes
    non-negative and bounded, constant sizes matching their buffers, op codes known.
    """
    where = str(path) if path else "model bytes"
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        if buf[:4] == b"PK\x03\x04" or buf[:8] == b"\x89HDF\r\n\x1a\n":  # .keras zip or legacy .h5
            raise InputFileError(f"{where} is a Keras model, not an int8 .tflite",
                                 hint=f"quantize it first: edgekit quantize {where} --calib DATA.npz")
        raise InputFileError(
            f"{where} is not a TFLite flatbuffer (no TFL3 identifier)",
            hint="pass a .tflite file, e.g. one made by `edgekit quantize`",
        )
    try:
        graph = _read_graph(buf, path, where)
    except EdgekitError:
        raise
    except Exception as exc:  # a truncated or corrupt flatbuffer raises from deep inside
        if isinstance(exc, struct.error):  # flatbuffers reading past the end of the buffer
            raise _corrupt(where, f"a table or vector lies past the end of the {len(buf)}-byte file") from None
        raise _corrupt(where, f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None
    check_graph(graph, where)
    return graph


def _corrupt(where: str, what: str) -> InputFileError:
    return InputFileError(f"{where} is a corrupt or truncated TFLite model: {what}",
                          hint="re-export it with `edgekit quantize`")


def _count(n: int, what: str, buf: bytes, where: str) -> int:
    """A vector length read from the flatbuffer, checked against the file size (each entry
    takes at least 4 bytes): a corrupt length must not drive a loop of billions."""
    if n < 0 or 4 * n > len(buf):
        raise _corrupt(where, f"{n} {what} in a {len(buf)}-byte file")
    return n


def _read_graph(buf: bytes, path: Path | None, where: str) -> Graph:
    model = tflite.Model.GetRootAs(buf, 0)
    subgraphs = _count(model.SubgraphsLength(), "subgraphs", buf, where)
    if subgraphs < 1:
        raise ModelError(f"{where} has no subgraph")
    opcodes = []
    for i in range(_count(model.OperatorCodesLength(), "operator codes", buf, where)):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        if code not in _OP_NAMES:
            raise ModelError(f"{where}: operator code {i} is builtin op {code}, not an op edgekit knows "
                             "(a corrupt file, or an op newer than this edgekit's TFLite schema)")
        name = _OP_NAMES[code]
        if name == "CUSTOM":
            custom = oc.CustomCode()
            name = "CUSTOM:" + (custom.decode(errors="replace") if custom else "?")
        opcodes.append((name, oc.Version()))
    n_buffers = _count(model.BuffersLength(), "buffers", buf, where)
    sg = model.Subgraphs(0)
    tensors = []
    for i in range(_count(sg.TensorsLength(), "tensors", buf, where)):
        t = sg.Tensors(i)
        dtype = _TENSOR_TYPES.get(t.Type()) or _OTHER_TYPES.get(t.Type(), "")
        if not dtype:
            raise _corrupt(where, f"tensor {i} has element type {t.Type()}, which TFLite does not define")
        shape_np = t.ShapeAsNumpy()
        shape = () if isinstance(shape_np, int) else tuple(int(d) for d in shape_np)
        name = t.Name().decode(errors="replace") if t.Name() else f"tensor{i}"
        _check_shape(i, name, shape, where)
        if not 0 <= t.Buffer() < max(n_buffers, 1):
            raise _corrupt(where, f"tensor {i} '{_short(name)}' uses buffer {t.Buffer()}, the model has {n_buffers}")
        b = model.Buffers(t.Buffer()) if n_buffers else None
        data = None
        raw: bytes | None = None
        if b is not None and b.DataLength() > 0:
            raw = b.DataAsNumpy().tobytes()
        elif b is not None and b.Offset() > 1:
            # Large models keep buffers after the flatbuffer, addressed by offset.
            if b.Offset() + b.Size() > len(buf):
                raise _corrupt(where, f"buffer {t.Buffer()} lies past the end of the file")
            raw = buf[b.Offset():b.Offset() + b.Size()]
        if raw is not None and dtype in _TENSOR_TYPES.values() and dtype != "int4":
            expected = math.prod(shape) * _itemsize(dtype)
            if len(raw) != expected:
                raise _corrupt(where, f"tensor {i} '{_short(name)}' of shape {shape} {dtype} needs {expected} bytes, "
                                      f"its buffer {t.Buffer()} holds {len(raw)}")
            data = np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape or (-1,)).copy()
        tensors.append(Tensor(i, name, shape, dtype, _quantization(t, shape), data, t.IsVariable()))
    operators = []
    for i in range(_count(sg.OperatorsLength(), "operators", buf, where)):
        o = sg.Operators(i)
        if not 0 <= o.OpcodeIndex() < len(opcodes):
            raise _corrupt(where, f"op #{i} uses operator code {o.OpcodeIndex()}, the model has {len(opcodes)}")
        name, version = opcodes[o.OpcodeIndex()]
        ins = o.InputsAsNumpy()
        outs = o.OutputsAsNumpy()
        operators.append(Operator(
            index=i, op=name, version=version,
            inputs=() if isinstance(ins, int) else tuple(int(x) for x in ins),
            outputs=() if isinstance(outs, int) else tuple(int(x) for x in outs),
            options=_options(o),
        ))
    ins, outs = sg.InputsAsNumpy(), sg.OutputsAsNumpy()
    inputs = () if isinstance(ins, int) else tuple(int(x) for x in ins)
    outputs = () if isinstance(outs, int) else tuple(int(x) for x in outs)
    description = model.Description().decode(errors="replace") if model.Description() else ""
    names = _signature_names(model, len(tensors))
    graph = Graph(path, hashlib.sha256(buf).hexdigest(), tensors, operators, inputs, outputs,
                  subgraphs, description, bytes(buf), names,
                  subgraph_inputs=inputs, subgraph_outputs=outputs)
    graph.state = state_ports(graph, where)
    carried = {i for sp in graph.state for i in (sp.input, sp.output)}
    graph.inputs = tuple(i for i in inputs if i not in carried)
    graph.outputs = tuple(i for i in outputs if i not in carried)
    return graph


def _signature_names(model: Any, n_tensors: int) -> dict[int, str]:
    """Tensor index -> name of the main subgraph's signature inputs and outputs."""
    names: dict[int, str] = {}
    for i in range(model.SignatureDefsLength()):
        sd = model.SignatureDefs(i)
        if sd.SubgraphIndex() != 0:
            continue
        for tm in [sd.Inputs(k) for k in range(sd.InputsLength())] + [sd.Outputs(k) for k in range(sd.OutputsLength())]:
            if tm.Name() and 0 <= tm.TensorIndex() < n_tensors:
                names.setdefault(tm.TensorIndex(), tm.Name().decode(errors="replace"))
    return names


# Bounds on what a microcontroller model can hold: past them a shape is corrupt, not big.
MAX_RANK = 8
MAX_ELEMENTS = 1 << 28
# Ops whose weight (input 1) edgekit reads by rank (MACs, kernels): the rank the schema gives it.
_WEIGHT_RANK = {"CONV_2D": 4, "DEPTHWISE_CONV_2D": 4, "FULLY_CONNECTED": 2}


def _short(name: str) -> str:
    """A tensor name fit for a one-line message (converter names can run to hundreds of chars)."""
    return name if len(name) <= 48 else name[:20] + "…" + name[-24:]


def _check_shape(i: int, name: str, shape: tuple[int, ...], where: str) -> None:
    if len(shape) > MAX_RANK or any(d < 0 for d in shape) or math.prod(shape) > MAX_ELEMENTS:
        raise _corrupt(where, f"tensor {i} '{_short(name)}' has an impossible shape {shape}")


def check_graph(graph: Graph, where: str) -> None:
    """Cross-references of a parsed graph: every tensor index in range, at least one input and
    output, every op with an output (and the weight rank edgekit reads), quantization
    parameters usable (finite, activations' scales positive), fused activations and paddings
    known. InputFileError otherwise."""
    n = len(graph.tensors)
    if not graph.inputs or not graph.outputs:
        raise _corrupt(where, f"the main subgraph has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs")
    for kind, indices in (("input", graph.inputs), ("output", graph.outputs)):
        bad = [i for i in indices if not 0 <= i < n]
        if bad:
            raise _corrupt(where, f"graph {kind} tensor {bad[0]} does not exist (the model has {n} tensors)")
    for op in graph.operators:
        bad = [i for i in op.inputs if not -1 <= i < n] + [i for i in op.outputs if not 0 <= i < n]
        if bad:
            raise _corrupt(where, f"op #{op.index} {op.op} uses tensor {bad[0]}, the model has {n}")
        if not op.outputs:
            raise _corrupt(where, f"op #{op.index} {op.op} has no output")
        rank = _WEIGHT_RANK.get(op.op)
        if rank is not None and (len(op.inputs) < 2 or op.inputs[1] < 0
                                 or len(graph.tensors[op.inputs[1]].shape) != rank):
            raise _corrupt(where, f"op #{op.index} {op.op} needs a {rank}-D weight tensor as input 1")
    for t in graph.tensors:
        q = t.quant
        if q is None:
            continue
        if q.zero_point.size != q.scale.size or not np.all(np.isfinite(q.scale)) or np.any(q.scale < 0) \
                or (q.per_channel and not 0 <= q.axis < max(len(t.shape), 1)):
            raise _corrupt(where, f"tensor {t.index} '{_short(t.name)}' has invalid quantization parameters")
        if not t.is_constant and not np.all(q.scale > 0):  # activations are divided by their scale
            raise _corrupt(where, f"tensor {t.index} '{_short(t.name)}' has a zero quantization scale")
    for op in graph.operators:
        for key, known in (("fused_activation_function", _ACTIVATIONS), ("padding", _PADDINGS)):
            if key in op.options and op.options[key] not in known.values():
                raise _corrupt(where, f"op #{op.index} {op.op} has an unknown {key.replace('_', ' ')} "
                                      f"{op.options[key]}")
