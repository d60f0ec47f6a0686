"""Read a .tflite flatbuffer into a small, plain graph representation.

Reads the schema directly (the `tflite` package) instead of going through an interpreter,
so models that LiteRT refuses for quantization quirks can still be inspected and compiled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tflite

from edgekit.errors import EdgekitError, InputFileError, ModelError

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
    """The main subgraph of a .tflite model."""

    path: Path | None
    sha256: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraph_count: int
    description: str

    @property
    def input_tensors(self) -> list[Tensor]:
        """The graph's input tensors, in order."""
        return [self.tensors[i] for i in self.inputs]

    @property
    def output_tensors(self) -> list[Tensor]:
        """The graph's output tensors, in order."""
        return [self.tensors[i] for i in self.outputs]

    def op_names(self) -> list[str]:
        """Distinct operator names in first-use order."""
        return list(dict.fromkeys(op.op for op in self.operators))


def _itemsize(dtype: str) -> int:
    return 1 if dtype in ("int4", "bool") else np.dtype(dtype).itemsize


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


def _quantization(t: Any) -> Quantization | None:
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return None
    scale = np.asarray(q.ScaleAsNumpy(), dtype=np.float32).reshape(-1)
    zp = q.ZeroPointAsNumpy()
    zero_point = np.zeros_like(scale, dtype=np.int64) if isinstance(zp, int) else \
        np.asarray(zp, dtype=np.int64).reshape(-1)
    return Quantization(scale=scale, zero_point=zero_point, axis=q.QuantizedDimension())


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
    """Parse .tflite bytes (`path` only names them in errors); InputFileError or ModelError when unusable."""
    where = str(path) if path else "model bytes"
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise InputFileError(
            f"{where} is not a TFLite flatbuffer (no TFL3 identifier)",
            hint="pass a .tflite file, e.g. one made by `edgekit quantize`",
        )
    try:
        model = tflite.Model.GetRootAs(buf, 0)
        if model.SubgraphsLength() < 1:
            raise ModelError(f"{where} has no subgraph")
        opcodes = []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            name = _OP_NAMES.get(code, f"BUILTIN_{code}")
            if name == "CUSTOM":
                custom = oc.CustomCode()
                name = "CUSTOM:" + (custom.decode() if custom else "?")
            opcodes.append((name, oc.Version()))
        sg = model.Subgraphs(0)
        tensors = []
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            dtype = _TENSOR_TYPES.get(t.Type(), f"type{t.Type()}")
            shape_np = t.ShapeAsNumpy()
            shape = () if isinstance(shape_np, int) else tuple(int(d) for d in shape_np)
            data = None
            b = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
            if b is not None and b.DataLength() > 0 and dtype in _TENSOR_TYPES.values() and dtype != "int4":
                raw = b.DataAsNumpy().tobytes()
                data = np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape or (-1,)).copy()
            elif b is not None and b.Offset() > 1:
                # Large models keep buffers after the flatbuffer, addressed by offset.
                raw = buf[b.Offset():b.Offset() + b.Size()]
                data = np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape or (-1,)).copy()
            name = t.Name().decode(errors="replace") if t.Name() else f"tensor{i}"
            tensors.append(Tensor(i, name, shape, dtype, _quantization(t), data, t.IsVariable()))
        operators = []
        for i in range(sg.OperatorsLength()):
            o = sg.Operators(i)
            name, version = opcodes[o.OpcodeIndex()]
            ins = o.InputsAsNumpy()
            outs = o.OutputsAsNumpy()
            operators.append(Operator(
                index=i, op=name, version=version,
                inputs=() if isinstance(ins, int) else tuple(int(x) for x in ins),
                outputs=() if isinstance(outs, int) else tuple(int(x) for x in outs),
                options=_options(o),
            ))
        inputs = tuple(int(x) for x in sg.InputsAsNumpy())
        outputs = tuple(int(x) for x in sg.OutputsAsNumpy())
        description = model.Description().decode(errors="replace") if model.Description() else ""
        subgraphs = model.SubgraphsLength()
    except EdgekitError:
        raise
    except Exception as exc:  # a truncated or corrupt flatbuffer raises from deep inside
        raise InputFileError(
            f"{where} is a corrupt or truncated TFLite model ({type(exc).__name__}: {exc})",
            hint="re-export it with `edgekit quantize`",
        ) from None
    return Graph(path, hashlib.sha256(buf).hexdigest(), tensors, operators, inputs, outputs,
                 subgraphs, description)
