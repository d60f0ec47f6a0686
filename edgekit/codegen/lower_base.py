"""What every edgekit-rt lowering shares: the `Step` an operator becomes, the checks that
turn an operator edgekit-rt cannot run into a ModelError, the requantization helpers, and the
op registry filled by `@lowers(...)`.

The lowerings themselves live in lower_nn.py, lower_elementwise.py and lower_shape.py;
lower.py imports them and walks the graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.codegen import quant as Q
from edgekit.errors import ModelError
from edgekit.model.tflite_graph import Graph, Operator, Tensor
from edgekit.runtimes import EDGEKIT_RT, TFLM

# The way out of every "edgekit-rt cannot run this model" error.
USE_TFLM = f"generate with `--runtime {TFLM}`"
TFLM_HINT = f"{EDGEKIT_RT} cannot compile it; {USE_TFLM} instead"


@dataclass
class ConstArray:
    """A constant C array of the generated code (weights, folded biases, multipliers...)."""

    name: str
    ctype: str  # "int8_t", "int32_t"; 16x8 models: "int16_t", "int64_t"
    values: np.ndarray

    @property
    def nbytes(self) -> int:
        """Bytes the array takes in flash (its C element type's size per element)."""
        return self.values.size * {"int8_t": 1, "int16_t": 2, "int64_t": 8}.get(self.ctype, 4)


@dataclass
class StateArray:
    """Persistent memory of a variable tensor (an LSTM's hidden or cell state) or of a state
    port (a KV cache): a static C array of its own, outside the arena, kept across invokes
    until {prefix}_reset() (which runs `reset`, when set, for a state port)."""

    name: str
    ctype: str  # "int8_t", "int16_t"; state ports: "int32_t" words (aligned)
    size: int
    reset: str = ""

    @property
    def nbytes(self) -> int:
        """Bytes of RAM the state takes."""
        return self.size * {"int8_t": 1, "int16_t": 2}.get(self.ctype, 4)


@dataclass
class Step:
    """One kernel call. `call` is a format string over {in0}, {in1}, ..., {out}, {scratch},
    {params}; `inplace_call` (if set) is used when the planner puts the output on the
    memory of input `inplace_input` (one of `inplace_inputs`), written {inp} in it."""

    op: Operator
    inputs: list[int]            # activation tensor indices read
    output: int                  # activation tensor index written
    params_type: str = ""
    params_init: str = ""
    consts: list[ConstArray] = field(default_factory=list)
    call: str = ""
    scratch: int = 0             # bytes, when not in place
    inplace_call: str | None = None
    inplace_scratch: int = 0
    inplace_inputs: tuple[int, ...] = (0,)  # which of `inputs` may share the output's memory
    inplace_input: int = 0       # the one chosen by the planner
    macs: int = 0
    alias_of: int | None = None  # for RESHAPE-like ops: the tensor aliased (no kernel call)
    inplace: bool = False        # decided by the planner
    extra_outputs: list[int] = field(default_factory=list)  # UNPACK: outputs 1.., {out1}...
    state: list[StateArray] = field(default_factory=list)  # variable tensors it owns
    reset_call: str = ""         # C statement putting `state` back to its initial values
    unread: bool = False         # no step reads its output: not run, not planned (drop_unread)


class Lowerer:
    """The graph being lowered, with the checks every lowering runs on its operator."""

    def __init__(self, graph: Graph, speed: bool = False) -> None:
        self.graph = graph
        self.speed = speed   # generate --optimize speed: int16 pre-widened FULLY_CONNECTED weights

    def fail(self, op: Operator, why: str) -> ModelError:
        """The error for an operator edgekit-rt cannot run: op, index and output tensor named."""
        out = self.graph.tensors[op.outputs[0]].name if op.outputs else "?"
        return ModelError(f"operator {op.index} ({op.op}) producing tensor '{out}' {why}",
                          hint=TFLM_HINT)

    def tensor(self, i: int) -> Tensor:
        """The graph's tensor at index `i`, unchecked."""
        return self.graph.tensors[i]

    def _per_tensor(self, op: Operator, t: Tensor) -> Tensor:
        # Checked here so that the operator is named; Tensor.scale would name the tensor only.
        if t.quant is None or t.quant.per_channel:
            raise self.fail(op, f"has {t.dtype} tensor '{t.name}' without per-tensor quantization")
        return t

    def act(self, op: Operator, i: int, dtypes: tuple[str, ...] = ("int8",)) -> Tensor:
        """An activation (non-constant) per-tensor quantized input of one of `dtypes`."""
        t = self.tensor(i)
        if t.is_constant:
            raise self.fail(op, f"has a constant input '{t.name}' where {EDGEKIT_RT} needs "
                                "an activation")
        if t.dtype not in dtypes:
            raise self.fail(op, f"has a {t.dtype} input '{t.name}' ({EDGEKIT_RT} is int8 only)")
        return self._per_tensor(op, t)

    def const_operand(self, op: Operator, i: int) -> Tensor:
        """A constant per-tensor quantized int8 operand of an elementwise op."""
        t = self.tensor(i)
        if t.dtype != "int8":
            raise self.fail(op, f"has a {t.dtype} constant '{t.name}'")
        return self._per_tensor(op, t)

    def const(self, op: Operator, i: int, dtype: str) -> Tensor:
        """A constant tensor of `dtype` (weights, biases, shapes, paddings)."""
        t = self.tensor(i)
        if not t.is_constant:
            raise self.fail(op, f"needs constant '{t.name}' but it is computed at run time")
        if t.dtype != dtype:
            raise self.fail(op, f"has {t.dtype} '{t.name}' where {dtype} is needed")
        return t

    def out(self, op: Operator, dtypes: tuple[str, ...] = ("int8",)) -> Tensor:
        """The operator's per-tensor quantized output, of one of `dtypes`."""
        t = self.tensor(op.outputs[0])
        if t.dtype not in dtypes:
            raise self.fail(op, f"outputs {t.dtype} ({EDGEKIT_RT} is int8 only)")
        return self._per_tensor(op, t)

    def requant_init(self, name: str, op: Operator, x: Tensor, w: Tensor, y: Tensor,
                     n_channels: int, consts: list[ConstArray], acc_bound: int = 1 << 62) -> str:
        """Requantization initializer; acc_bound bounds |accumulator| over all int8 inputs."""
        small = 1 if acc_bound < (1 << 30) - 1 else 0
        if w.quant is None:
            raise self.fail(op, f"has unquantized weights '{w.name}'")
        if np.any(w.quant.zero_point != 0):
            raise self.fail(op, f"has weights '{w.name}' with a non-zero zero point")
        scales = w.quant.scale
        if scales.size not in (1, n_channels):
            raise self.fail(op, f"has {scales.size} weight scales for {n_channels} channels")
        mults, shifts = Q.conv_multipliers(x.scale, scales, y.scale)
        lo, hi = Q.activation_range(op.options.get("fused_activation_function"), y.scale,
                                    y.zero_point)
        per_channel = 1 if scales.size > 1 else 0
        base = min(shifts)
        if per_channel and all(m >= (1 << 30) for m in mults) and max(shifts) - base <= 3:
            # Packed: bit 30 of every multiplier is 1; bits 31..30 carry shift - base.
            packed = [((m & 0x3FFFFFFF) | ((s - base) << 30)) for m, s in zip(mults, shifts)]
            packed = [v - (1 << 32) if v >= (1 << 31) else v for v in packed]
            consts.append(ConstArray(f"{name}_m", "int32_t", np.array(packed, dtype=np.int64)))
            vec = "ekrt_rq_vec_fast" if small and base <= -5 else "ekrt_rq_vec_generic"
            return f"{{{name}_m, 0, {y.zero_point}, {lo}, {hi}, 1, {base}, {small}, {vec}}}"
        consts.append(ConstArray(f"{name}_m", "int32_t", np.array(mults, dtype=np.int64)))
        consts.append(ConstArray(f"{name}_s", "int8_t", np.array(shifts, dtype=np.int64)))
        vec = "ekrt_rq_vec_fast_s" if small and max(shifts) <= -2 and min(mults) > 0 \
            else "ekrt_rq_vec_generic"
        return (f"{{{name}_m, {name}_s, {y.zero_point}, {lo}, {hi}, {per_channel}, 0, {small}, "
                f"{vec}}}")

    def folded_bias(self, op: Operator, name: str, w2d: np.ndarray, bias_idx: int, x: Tensor,
                    consts: list[ConstArray]) -> int:
        """Append bias + input_offset * sum(w) per output channel, wrapped to int32 like
        TFLM's sums; returns the bound on |accumulator| for requant_init."""
        n = w2d.shape[0]
        bias = np.zeros(n, dtype=np.int64)
        if bias_idx >= 0:
            b = self.const(op, bias_idx, "int32")
            bias = values(b).reshape(-1).astype(np.int64)
        folded = bias + (-x.zero_point) * w2d.astype(np.int64).sum(axis=1)
        # |acc| <= |folded bias| + 128 * sum|w| for any int8 input (padding reads the zp).
        acc_bound = int(np.max(np.abs(folded) + 128 * np.abs(w2d.astype(np.int64)).sum(axis=1)))
        folded = ((folded + (1 << 31)) % (1 << 32)) - (1 << 31)
        consts.append(ConstArray(f"{name}_b", "int32_t", folded))
        return acc_bound

    def window_padding(self, op: Operator, x: Tensor, y: Tensor, kh: int, kw: int,
                       sh: int, sw: int, dh: int, dw: int) -> tuple[int, int]:
        """(pad_h, pad_w) before the first row/column of a conv or pool window (NHWC)."""
        if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[0] != 1:
            raise self.fail(op, "needs 4-D NHWC tensors with batch 1")
        pads = []
        for n_in, n_out, k, s, d in ((x.shape[1], y.shape[1], kh, sh, dh),
                                     (x.shape[2], y.shape[2], kw, sw, dw)):
            eff = (k - 1) * d + 1
            total = (n_out - 1) * s + eff - n_in
            pads.append(max(total, 0) // 2)
        if op.options.get("padding", "SAME") == "VALID":
            pads = [0, 0]
        return pads[0], pads[1]


Lowering = Callable[[Lowerer, Operator], Step]

# Operator name -> its lowering. Filled by @lowers; it is the list of supported ops.
LOWERINGS: dict[str, Lowering] = {}


def lowers(*ops: str) -> Callable[[Lowering], Lowering]:
    """Register the decorated function as the edgekit-rt lowering of the operators `ops`."""

    def register(fn: Lowering) -> Lowering:
        for name in ops:
            if name in LOWERINGS:
                raise ValueError(f"{name} has two lowerings: {LOWERINGS[name].__name__}, "
                                 f"{fn.__name__}")
            LOWERINGS[name] = fn
        return fn

    return register


def block_weights(w2d: np.ndarray) -> np.ndarray:
    """Reorder [n_out][depth] int8 weights into the kernels' blocked layout (ekrt_kernels.h):
    per block of 4 rows, 4-column slices of the 4 rows interleaved, then the 4 rows' last
    depth % 4 columns row after row; the n_out % 4 last rows plainly."""
    n_out, depth = w2d.shape
    k4 = depth - depth % 4
    parts = []
    for c in range(0, n_out - n_out % 4, 4):
        blk = w2d[c:c + 4]
        parts.append(blk[:, :k4].reshape(4, k4 // 4, 4).transpose(1, 0, 2).reshape(-1))
        parts.append(blk[:, k4:].reshape(-1))
    parts.append(w2d[n_out - n_out % 4:].reshape(-1))
    return np.concatenate(parts) if parts else w2d.reshape(-1)


def c_list(ints: Any) -> str:
    """Integers as the inside of a C initializer list: "1, 2, 3"."""
    return ", ".join(str(int(v)) for v in np.asarray(ints).reshape(-1))


def values(t: Tensor) -> np.ndarray:
    """The data of a constant tensor (one Lowerer.const or Tensor.is_constant checked)."""
    if t.data is None:
        raise AssertionError(f"tensor '{t.name}' is not constant")
    return t.data
