"""edgekit-rt lowerings of the ops a Keras 3 transformer block converts to beyond the CNN set:
BATCH_MATMUL (MultiHeadAttention, keras.ops.matmul, Dot, Attention), GELU (Dense(activation=
"gelu")), RSQRT (LayerNormalization, RMS normalization), SELECT/SELECT_V2 (causal masks, a
decode step's KV cache update) and
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

    # Each operand's element strides over its 5 axes: contiguous, or those of the tensor a
    # TRANSPOSE read only here permutes (read in place of the copy, which is then not run).
    ls, rs = (_through_transpose(lw, op, t, act_inputs) for t in (lhs, rhs))

    def batch_strides(s5: list[int], st: list[int]) -> list[int]:
        # TFLM's batch_matmul::extent: a dimension of 1 does not advance (broadcast).
        return [0 if s5[i] == 1 else st[i] for i in range(3)]

    lhs_row, lhs_depth = (ls[4], ls[3]) if adj_x else (ls[3], ls[4])
    rhs_depth, rhs_col = (rs[4], rs[3]) if adj_y else (rs[3], rs[4])
    m, s = Q.quantize_multiplier(lhs.scale * rhs.scale / y.scale)
    init = (f"{{{{{c_list(batch)}}}, {{{c_list(batch_strides(l5, ls))}}}, "
            f"{{{c_list(batch_strides(r5, rs))}}}, {rows}, {cols}, {depth}, {lhs_row}, {lhs_depth}, "
            f"{rhs_depth}, {rhs_col}, {-lhs.zero_point}, {-rhs.zero_point}, {y.zero_point}, "
            f"{m}, {s}, {Q.INT8_MIN}, {Q.INT8_MAX}}}")
    o1, o2 = operands
    return Step(op, act_inputs, y.index, "ekrt_bmm_t", init, consts,
                f"ekrt_batch_matmul(&{{params}}, {o1}, {o2}, {{out}});",
                macs=math.prod(batch) * rows * cols * depth)


def _through_transpose(lw: Lowerer, op: Operator, t: Tensor, act_inputs: list[int]) -> list[int]:
    """The element strides of operand `t` over 5 axes. When `t` is a TRANSPOSE's output that only
    `op` reads (a decode step's cache, [T, heads, depth] -> [heads, depth, T]), its axes are read
    from the TRANSPOSE's input with that tensor's strides permuted, and `act_inputs` names the
    input instead: the copy of the whole cache is left out (lower.drop_unread)."""
    graph = lw.graph
    rank = len(t.shape)
    own = [math.prod(t.shape[d + 1:]) for d in range(rank)]
    src = next((o for o in graph.operators if t.index in o.outputs), None)
    readers = [o for o in graph.operators if t.index in o.inputs]
    if (t.is_constant or src is None or src.op != "TRANSPOSE" or readers != [op]
            or t.index in graph.subgraph_outputs or not lw.tensor(src.inputs[1]).is_constant):
        return [0] * (5 - rank) + own
    x = lw.tensor(src.inputs[0])
    perm = [int(p) % len(x.shape) for p in values(lw.tensor(src.inputs[1])).reshape(-1)]
    if x.is_constant or x.dtype != "int8" or len(perm) != rank or sorted(perm) != list(range(rank)):
        return [0] * (5 - rank) + own
    xs = [math.prod(x.shape[d + 1:]) for d in range(rank)]
    for k, i in enumerate(act_inputs):
        if i == t.index:
            act_inputs[k] = x.index
    return [0] * (5 - rank) + [xs[p] for p in perm]


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


def broadcast_dims(lw: Lowerer, op: Operator, y: Tensor, operands: list[Tensor]) -> list[int]:
    """The output's shape padded to 5 dimensions; ModelError unless every operand broadcasts
    to it (rank <= 5, each dimension 1 or the output's)."""
    rank = len(y.shape)
    if rank > 5 or any(len(t.shape) > rank for t in operands):
        raise lw.fail(op, "has rank > 5 or an operand of higher rank than its output")
    dims = [1] * (5 - rank) + list(y.shape)
    for t in operands:
        if any(a not in (1, d) for a, d in zip(_pad5(t), dims)):
            raise lw.fail(op, f"cannot broadcast shape {t.shape} to {y.shape}")
    return dims


def broadcast_strides(t: Tensor) -> list[int]:
    """Element strides of `t` over the 5 output dimensions, 0 where it is broadcast."""
    s = _pad5(t)
    out, acc = [0] * 5, 1
    for i in range(4, -1, -1):
        out[i] = 0 if s[i] == 1 else acc
        acc *= s[i]
    return out


def _pad5(t: Tensor) -> list[int]:
    return [1] * (5 - len(t.shape)) + list(t.shape)


@lowers("SELECT", "SELECT_V2")
def select(lw: Lowerer, op: Operator) -> Step:
    """SELECT/SELECT_V2 on a bool condition, constant (the causal mask of MultiHeadAttention and
    Attention) or computed (a decode step's mask and cache update): ekrt_select copies the raw
    int8 of x or y as TFLM does (no requantization), broadcast over up to 5 dimensions; in place
    on an operand of the output's shape, which is read where it is written. A cache update
    (slice_update) in place writes only the selected slice."""
    y = lw.out(op)
    cond = lw.tensor(op.inputs[0])
    if cond.dtype != "bool":
        raise lw.fail(op, f"has a {cond.dtype} condition ({EDGEKIT_RT} takes a bool condition)")
    name = f"op{op.index}"
    consts, operands, act_inputs = [], [], []
    if cond.is_constant:
        consts.append(ConstArray(f"{name}_cond", "int8_t", values(cond).reshape(-1).astype(np.int64)))
        operands.append(f"{name}_cond")
    else:
        operands.append("{in0}")
        act_inputs.append(cond.index)
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
    c, a, b = (lw.tensor(i) for i in op.inputs[:3])
    dims = broadcast_dims(lw, op, y, [c, a, b])
    init = (f"{{{{{c_list(dims)}}}, {{{c_list(broadcast_strides(c))}}}, "
            f"{{{c_list(broadcast_strides(a))}}}, {{{c_list(broadcast_strides(b))}}}}}")
    call = f"ekrt_select(&{{params}}, {', '.join(operands)}, {{out}});"
    whole = tuple(k for k, i in enumerate(act_inputs) if i != cond.index and lw.tensor(i).shape == y.shape)
    step = Step(op, act_inputs, y.index, "ekrt_select_t", init, consts, call,
                inplace_call=call if whole else None, inplace_inputs=whole)
    return slice_update(lw, step, dims) or step


def slice_update(lw: Lowerer, step: Step, dims: list[int]) -> Step | None:
    """SELECT_V2(EQUAL(keys, key), x, y) with y an activation of the output's shape, `keys` a
    constant int32 along one axis of the output (all axes before it of size 1, so a slice is
    contiguous) and `key` a run-time int32 scalar: a KV cache update. In place on y it writes
    only the slices whose key matches (ekrt_select_slice), otherwise the plain select."""
    op, graph = step.op, lw.graph
    cond, x, y = op.inputs[:3]
    src = next((o for o in graph.operators if cond in o.outputs), None)
    if src is None or src.op != "EQUAL" or lw.tensor(y).is_constant or lw.tensor(x).is_constant:
        return None
    keys, key = sorted((lw.tensor(i) for i in src.inputs), key=lambda t: not t.is_constant)
    c5 = _pad5(lw.tensor(cond))
    axes = [i for i, n in enumerate(c5) if n > 1]
    if (not keys.is_constant or key.is_constant or keys.dtype != "int32" or key.dtype != "int32"
            or key.size != 1 or len(axes) != 1 or keys.size != dims[axes[0]]
            or math.prod(dims[:axes[0]]) != 1 or lw.tensor(y).shape != lw.tensor(op.outputs[0]).shape):
        return None
    axis = axes[0]
    row = list(dims)
    row[axis] = 1
    sx = broadcast_strides(lw.tensor(x))
    name = f"op{op.index}"
    key_values = values(keys).reshape(-1).astype(np.int64)
    iota = bool(np.array_equal(key_values, np.arange(len(key_values))))   # slice k has key k: no search
    step.params_type = "ekrt_select_slice_t"
    step.params_init = (f"{{{step.params_init}, {{{{{c_list(row)}}}, {{0, 0, 0, 0, 0}}, {{{c_list(sx)}}}, "
                        f"{{{c_list(sx)}}}}}, {'0' if iota else f'{name}_keys'}, {dims[axis]}, "
                        f"{math.prod(dims[axis + 1:])}, {sx[axis]}}}")
    if not iota:
        step.consts.append(ConstArray(f"{name}_keys", "int32_t", key_values))
    step.call = step.call.replace("&{params}", "&{params}.all")
    k_x, k_y = step.inputs.index(x), step.inputs.index(y)
    step.inputs.append(key.index)
    step.inplace_inputs = (k_y,)
    step.inplace_call = (f"ekrt_select_slice(&{{params}}, (const int32_t *)(const void *)"
                         f"{{in{len(step.inputs) - 1}}}, {{in{k_x}}}, {{out}});")
    return step


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
