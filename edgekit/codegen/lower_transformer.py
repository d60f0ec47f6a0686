"""edgekit-rt lowerings of the ops a Keras 3 transformer block converts to beyond the CNN set:
BATCH_MATMUL (MultiHeadAttention, keras.ops.matmul, Dot, Attention), GELU (Dense(activation=
"gelu")), RSQRT (LayerNormalization, RMS normalization), SELECT/SELECT_V2 (causal masks) and
the float NEG and SQUARE the normalizations leave between DEQUANTIZE and QUANTIZE. GELU and
RSQRT are 256-entry int8 tables computed here exactly as their reference's Prepare would
(ekrt_lut at run time)."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from collections.abc import Callable

import numpy as np

from edgekit.codegen import quant as Q
from edgekit.codegen.lower_base import ConstArray, Lowerer, Step, c_list, lowers, values
from edgekit.codegen.lower_elementwise import two_operands
from edgekit.model.tflite_graph import Operator, Tensor
from edgekit.runtimes import EDGEKIT_RT


@lowers("BATCH_MATMUL")
def batch_matmul(lw: Lowerer, op: Operator) -> Step:
    """BATCH_MATMUL int8 as TFLM's (reference_ops::BatchMatMul): int32 sums of (x - zp) products,
    one multiplier lhs_scale * rhs_scale / out_scale, adj_x/adj_y read as strides, the batch
    dimensions (up to 3) broadcast; either operand may be a constant."""
    y = lw.out(op)
    (lhs, rhs), operands, act_inputs, consts = two_operands(lw, op)
    if not 2 <= len(lhs.shape) <= 5 or not 2 <= len(rhs.shape) <= 5 or len(y.shape) > 5:
        raise lw.fail(op, "has an operand of rank < 2 or > 5")
    adj_x, adj_y = bool(op.options.get("adj_x")), bool(op.options.get("adj_y"))
    l5 = [1] * (5 - len(lhs.shape)) + list(lhs.shape)
    r5 = [1] * (5 - len(rhs.shape)) + list(rhs.shape)
    rows, depth = (l5[4], l5[3]) if adj_x else (l5[3], l5[4])
    cols, rdepth = (r5[3], r5[4]) if adj_y else (r5[4], r5[3])
    batch = [max(a, b) for a, b in zip(l5[:3], r5[:3])]
    if depth != rdepth or any(d not in (1, b) for d, b in zip(l5[:3] + r5[:3], batch * 2)):
        raise lw.fail(op, f"has operands of shapes {lhs.shape} and {rhs.shape} that do not multiply")
    if y.size != math.prod(batch) * rows * cols:
        raise lw.fail(op, f"has an output of shape {y.shape}, not {batch + [rows, cols]}")

    def batch_strides(s5: list[int]) -> list[int]:
        # TFLM's batch_matmul::extent: a dimension of 1 does not advance (broadcast).
        return [0 if s5[i] == 1 else math.prod(s5[i + 1:]) for i in range(3)]

    lhs_row, lhs_depth = (1, rows) if adj_x else (depth, 1)
    rhs_depth, rhs_col = (1, depth) if adj_y else (cols, 1)
    m, s = Q.quantize_multiplier(lhs.scale * rhs.scale / y.scale)
    init = (f"{{{{{c_list(batch)}}}, {{{c_list(batch_strides(l5))}}}, "
            f"{{{c_list(batch_strides(r5))}}}, {rows}, {cols}, {depth}, {lhs_row}, {lhs_depth}, "
            f"{rhs_depth}, {rhs_col}, {-lhs.zero_point}, {-rhs.zero_point}, {y.zero_point}, "
            f"{m}, {s}, {Q.INT8_MIN}, {Q.INT8_MAX}}}")
    o1, o2 = operands
    return Step(op, act_inputs, y.index, "ekrt_bmm_t", init, consts,
                f"ekrt_batch_matmul(&{{params}}, {o1}, {o2}, {{out}});",
                macs=math.prod(batch) * rows * cols * depth)


@lowers("NEG", "SQUARE")
def float_unary(lw: Lowerer, op: Operator) -> Step:
    """NEG, SQUARE of float32 (TFLM has no int8 NEG or SQUARE, so the converter keeps them float
    inside a DEQUANTIZE/QUANTIZE pair): ekrt_neg_f32, ekrt_square_f32."""
    x, y = lw.tensor(op.inputs[0]), lw.tensor(op.outputs[0])
    if x.dtype != "float32" or y.dtype != "float32" or x.is_constant or x.size != y.size:
        raise lw.fail(op, f"has a {'constant ' if x.is_constant else ''}{x.dtype} input where "
                          f"{EDGEKIT_RT} takes a float32 activation (TFLM has no int8 {op.op})")
    fn = {"NEG": "ekrt_neg_f32", "SQUARE": "ekrt_square_f32"}[op.op]
    cast_in, cast_out = "(const float *)(const void *)", "(float *)(void *)"
    return Step(op, [x.index], y.index, "", "", [],
                f"{fn}({cast_in}{{in0}}, {cast_out}{{out}}, {x.size});",
                inplace_call=f"{fn}({cast_in}{{in0}}, {cast_out}{{in0}}, {x.size});")


@lowers("SELECT", "SELECT_V2")
def select(lw: Lowerer, op: Operator) -> Step:
    """SELECT/SELECT_V2 with a constant condition (the causal mask of MultiHeadAttention and
    Attention): ekrt_select copies the raw int8 of x or y as TFLM does (no requantization),
    broadcast over up to 5 dimensions."""
    y = lw.out(op)
    cond = lw.tensor(op.inputs[0])
    if not cond.is_constant or cond.dtype != "bool":
        raise lw.fail(op, f"has a {cond.dtype} condition computed at run time ({EDGEKIT_RT} takes "
                          "a constant bool condition)")
    name = f"op{op.index}"
    consts = [ConstArray(f"{name}_cond", "int8_t", values(cond).reshape(-1).astype(np.int64))]
    operands = [f"{name}_cond"]
    act_inputs: list[int] = []
    for k, idx in enumerate(op.inputs[1:3], start=1):
        t = lw.tensor(idx)
        if t.is_constant:
            lw.const_operand(op, idx)
            consts.append(ConstArray(f"{name}_c{k}", "int8_t", values(t).reshape(-1)))
            operands.append(f"{name}_c{k}")
        else:
            lw.act(op, idx)
            operands.append(f"{{in{len(act_inputs)}}}")
            act_inputs.append(idx)
    rank = len(y.shape)
    if rank > 5 or any(len(lw.tensor(i).shape) > rank for i in op.inputs[:3]):
        raise lw.fail(op, "has rank > 5 or an operand of higher rank than its output")
    dims = [1] * (5 - rank) + list(y.shape)

    def strides(t: Tensor) -> list[int]:
        s = [1] * (5 - len(t.shape)) + list(t.shape)
        if any(a not in (1, d) for a, d in zip(s, dims)):
            raise lw.fail(op, f"cannot broadcast shape {t.shape} to {y.shape}")
        out, acc = [0] * 5, 1
        for i in range(4, -1, -1):
            out[i] = 0 if s[i] == 1 else acc
            acc *= s[i]
        return out

    c, a, b = (lw.tensor(i) for i in op.inputs[:3])
    init = (f"{{{{{c_list(dims)}}}, {{{c_list(strides(c))}}}, {{{c_list(strides(a))}}}, "
            f"{{{c_list(strides(b))}}}}}")
    return Step(op, act_inputs, y.index, "ekrt_select_t", init, consts,
                f"ekrt_select(&{{params}}, {', '.join(operands)}, {{out}});")


def _table_step(lw: Lowerer, op: Operator, table: list[int]) -> Step:
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    name = f"op{op.index}_lut"
    return Step(op, [x.index], y.index, "", "", [ConstArray(name, "int8_t", np.array(table, dtype=np.int64))],
                f"ekrt_lut({name}, {{in0}}, {{out}}, {x.size});",
                inplace_call=f"ekrt_lut({name}, {{in0}}, {{in0}}, {x.size});")


@lowers("GELU")
def gelu(lw: Lowerer, op: Operator) -> Step:
    """GELU: LiteRT's int8 table (TFLM has no GELU kernel; LiteRT is the reference)."""
    x, y = lw.act(op, op.inputs[0]), lw.out(op)
    return _table_step(lw, op, gelu_table(x.scale, x.zero_point, y.scale, y.zero_point,
                                          bool(op.options.get("approximate"))))


@lowers("RSQRT")
def rsqrt(lw: Lowerer, op: Operator) -> Step:
    """RSQRT int8: TFLM's fixed-point inverse square root (elementwise.cc) for all 256 inputs."""
    x, y = lw.act(op, op.inputs[0]), lw.out(op)
    return _table_step(lw, op, rsqrt_table(x.scale, x.zero_point, y.scale, y.zero_point))


# ---------------------------------------------------------------- tables

def _libm(fn: str) -> Callable[[np.float32], np.float32]:
    """The C library's float function `fn` (tanhf, erfcf): what the reference's Prepare calls."""
    lib = ctypes.util.find_library("m")
    if lib is None:
        raise RuntimeError("no C math library to compute the GELU table as LiteRT does")
    f = getattr(ctypes.CDLL(lib), fn)
    f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
    return lambda v: np.float32(f(float(v)))


def gelu_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int,
               approximate: bool) -> list[int]:
    """LiteRT's int8 GELU table (LUTPopulateInt8 over reference_ops::GeluTransform[Approximate],
    all in float32): out[(uint8)x]."""
    f32 = np.float32
    if approximate:
        tanhf = _libm("tanhf")
        k = f32(1.12837916709551257390 * 0.70710678118654752440)  # float(M_2_SQRTPI * M_SQRT1_2)

        def fn(v: np.float32) -> np.float32:
            cube = f32(f32(f32(f32(0.044715) * v) * v) * v)
            return f32(f32(f32(0.5) * v) * f32(f32(1.0) + tanhf(f32(k * f32(v + cube)))))
    else:
        erfcf = _libm("erfcf")
        c = f32(-0.70710678118654752440)  # float(-M_SQRT1_2)

        def fn(v: np.float32) -> np.float32:
            return f32(f32(f32(0.5) * v) * erfcf(f32(v * c)))
    inverse = f32(1.0) / f32(out_scale)
    table = [0] * 256
    for x in range(-128, 128):
        t = fn(f32(f32(in_scale) * f32(x - in_zp)))
        rescaled = f32(Q.tflite_round(float(f32(t * inverse))))
        q = int(f32(rescaled + f32(out_zp))) if np.isfinite(rescaled) else (-128 if rescaled < 0 else 127)
        table[x & 0xFF] = max(Q.INT8_MIN, min(Q.INT8_MAX, q))
    return table


def _inv_sqrt_multiplier(v: int) -> tuple[int, int]:
    """GetInvSqrtQuantizedMultiplierExp(v, kReverseShift) (gemmlowp Newton-Raphson in Q3.28)."""
    if v <= 1:
        return Q._INT32_MAX, 0
    shift = 11
    while v >= (1 << 29):
        v //= 4
        shift += 1
    pairs = ((32 - v.bit_length()) - 1) // 2 - 1
    shift -= pairs
    v <<= 2 * pairs
    half_input = Q._rdbpot(v >> 1, 1)
    half_three = (1 << 28) + (1 << 27)
    x = 1 << 28  # F3::One()
    for _ in range(5):
        x3 = Q._sat_shl32(Q._srdhm32(Q._srdhm32(x, x), x), 6)
        x = Q._sat_shl32(Q._i32(Q._srdhm32(half_three, x) - Q._srdhm32(half_input, x3)), 3)
    x = Q._srdhm32(x, 1518500250)
    if shift < 0:
        x, shift = Q._i32(x << -shift), 0
    return x, -shift


def rsqrt_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> list[int]:
    """TFLM's int8 RSQRT for all 256 inputs: out[(uint8)x]. Below the zero point TFLM refuses
    the invoke ("Rsqrt is only defined for positive values"); the table gives 127 there."""
    f32 = np.float32
    m, s = Q.quantize_multiplier(1.0 / float(f32(np.sqrt(f32(in_scale))) * f32(out_scale)))
    table = [0] * 256
    for x in range(-128, 128):
        v = x - in_zp
        if v <= 0:
            table[x & 0xFF] = Q.INT8_MAX
            continue
        im, ish = _inv_sqrt_multiplier(v)
        data = Q.multiply_by_quantized_multiplier(1, im, ish + 20)
        out = Q.multiply_by_quantized_multiplier(data, m, s - 20) + out_zp
        table[x & 0xFF] = max(Q.INT8_MIN, min(Q.INT8_MAX, out))
    return table
