"""edgekit-rt lowerings of the elementwise operators: activations, requantization and
broadcasting ADD/SUB/MUL. All of them may run in place."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgekit.codegen import quant as Q
from edgekit.codegen.lower_base import ConstArray, Lowerer, Step, c_list, lowers, values
from edgekit.model.iotypes import IO_TYPES
from edgekit.model.tflite_graph import Operator, Tensor
from edgekit.runtimes import EDGEKIT_RT


def _unary(lw: Lowerer, op: Operator, fn: str, init_fields: tuple[int, ...]) -> Step:
    """One ekrt_unary_t kernel over the whole input: {size, *init_fields}."""
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    init = "{" + ", ".join(str(int(v)) for v in (x.size,) + init_fields) + "}"
    call = f"{fn}(&{{params}}, {{in0}}, {{out}});"
    return Step(op, [x.index], y.index, "ekrt_unary_t", init, [], call,
                inplace_call=f"{fn}(&{{params}}, {{in0}}, {{in0}});")


@lowers("LOGISTIC", "TANH")
def logistic_tanh(lw: Lowerer, op: Operator) -> Step:
    """LOGISTIC/TANH: ekrt_logistic/ekrt_tanh with TFLM's input multiplier, left shift and range radius."""
    fn = {"LOGISTIC": "ekrt_logistic", "TANH": "ekrt_tanh"}[op.op]
    x = lw.act(op, op.inputs[0])
    m, s, r = Q.sigmoid_tanh_params(x.scale)
    return _unary(lw, op, fn, (x.zero_point, 0, m, s, r, -128, 127))


# QUANTIZE's kernel per (input, output) type: the integer pairs TFLM's QUANTIZE takes among
# the types edgekit-rt carries (tensorflow/lite/micro/kernels/quantize_common.cc). uint8
# appears only here, at the graph's input and output (lower.py checks that); int16 is also a
# 16x8 model's activation type (lower_int16.py), int32 a quantized graph input or output.
REQUANTIZE_KERNELS: dict[tuple[str, str], str] = {
    ("int8", "int8"): "ekrt_requantize",
    ("uint8", "int8"): "ekrt_requantize_u8_s8",
    ("int8", "uint8"): "ekrt_requantize_s8_u8",
    ("int8", "int16"): "ekrt_requantize_s8_s16",
    ("int16", "int8"): "ekrt_requantize_s16_s8",
    ("int16", "int16"): "ekrt_requantize_s16_s16",
    ("int32", "int16"): "ekrt_requantize_s32_s16",
    ("int16", "int32"): "ekrt_requantize_s16_s32",
    ("int32", "int8"): "ekrt_requantize_s32_s8",
    ("int8", "int32"): "ekrt_requantize_s8_s32",
}
REQUANTIZE_TYPES = ("int8", "uint8", "int16", "int32")


@lowers("QUANTIZE")
def quantize(lw: Lowerer, op: Operator) -> Step:
    """QUANTIZE between int8, uint8, int16 and int32: ekrt_requantize* with both zero points, the
    scale_in / scale_out multiplier and the output type's range; uint8 <-> int8 at one scale
    with zero points 128 apart is ekrt_flip_sign8 (the same result); float32 to int8/int16
    (an integer model's float input) is ekrt_quantize_f32_*."""
    if lw.tensor(op.inputs[0]).dtype == "float32":
        return _affine(lw, op, lw.out(op, ("int8", "int16")), to_float=False)
    y = lw.out(op, REQUANTIZE_TYPES)
    x = lw.act(op, op.inputs[0], REQUANTIZE_TYPES)
    fn = REQUANTIZE_KERNELS.get((x.dtype, y.dtype))
    if fn is None:
        raise lw.fail(op, f"converts {x.dtype} to {y.dtype}; TFLM's QUANTIZE (and {EDGEKIT_RT}) "
                          "takes " + ", ".join(f"{a}->{b}" for a, b in REQUANTIZE_KERNELS))
    m, s = Q.quantize_multiplier(x.scale / y.scale)
    flip = {("uint8", "int8"): 128, ("int8", "uint8"): -128}.get((x.dtype, y.dtype))
    if flip is not None and (m, s) == (1 << 30, 1) and x.zero_point - y.zero_point == flip:
        return Step(op, [x.index], y.index, "", "", [],
                    f"ekrt_flip_sign8({{in0}}, {{out}}, {x.size});",
                    inplace_call=f"ekrt_flip_sign8({{in0}}, {{in0}}, {x.size});")
    xt, yt = IO_TYPES[x.dtype], IO_TYPES[y.dtype]
    lo, hi = yt.bounds()
    # The planner's pointers are int8_t *, word-aligned: cast to the kernel's element types
    # (through void *, so that -Wcast-align stays quiet, as GATHER's int32 indices).
    src = "" if x.dtype == "int8" else f"(const {xt.ctype} *)(const void *)"
    dst = "" if y.dtype == "int8" else f"({yt.ctype} *)(void *)"
    init = "{" + ", ".join(str(int(v)) for v in (x.size, x.zero_point, y.zero_point, m, s, 0,
                                                  lo, hi)) + "}"
    return Step(op, [x.index], y.index, "ekrt_unary_t", init, [],
                f"{fn}(&{{params}}, {src}{{in0}}, {dst}{{out}});",
                inplace_call=(f"{fn}(&{{params}}, {src}{{in0}}, {dst}{{in0}});"
                              if yt.itemsize <= xt.itemsize else None))


@lowers("DEQUANTIZE")
def dequantize(lw: Lowerer, op: Operator) -> Step:
    """int8, uint8 or int16 to float32 (an integer model's float output): ekrt_dequantize_*."""
    return _affine(lw, op, lw.act(op, op.inputs[0], tuple(_SHORT)), to_float=True)


_SHORT = {"int8": "s8", "uint8": "u8", "int16": "s16"}


def _affine(lw: Lowerer, op: Operator, q: Tensor, *, to_float: bool) -> Step:
    """float32 <-> q's integer type with q's scale and zero point (ekrt_affine_t). The planner's
    pointers are int8_t *: other element types are cast through void * (-Wcast-align)."""
    f = lw.tensor(op.outputs[0] if to_float else op.inputs[0])
    if f.dtype != "float32" or f.is_constant:
        raise lw.fail(op, f"has {'constant ' if f.is_constant else ''}{f.dtype} '{f.name}' where "
                          f"{EDGEKIT_RT} takes a float32 activation")
    if q.size != f.size:
        raise lw.fail(op, f"changes the element count ({f.size} -> {q.size})")
    qt = IO_TYPES[q.dtype]
    lo, hi = qt.bounds()
    init = f"{{{q.size}, {float(np.float32(q.scale))!r}f, {q.zero_point}, {lo}, {hi}}}"
    if to_float:
        src = "" if q.dtype == "int8" else f"(const {qt.ctype} *)(const void *)"
        call = f"ekrt_dequantize_{_SHORT[q.dtype]}_f32(&{{params}}, {src}{{in0}}, (float *)(void *){{out}});"
    else:
        dst = "" if q.dtype == "int8" else f"({qt.ctype} *)(void *)"
        call = f"ekrt_quantize_f32_{_SHORT[q.dtype]}(&{{params}}, (const float *)(const void *){{in0}}, {dst}{{out}});"
    return Step(op, [op.inputs[0]], op.outputs[0], "ekrt_affine_t", init, [], call)


@lowers("RELU")
def relu(lw: Lowerer, op: Operator) -> Step:
    """RELU: ekrt_relu_requant, rescaling by scale_in / scale_out and clamping at the output's quantized 0."""
    y = lw.out(op)
    x = lw.act(op, op.inputs[0])
    m, s = Q.quantize_multiplier(x.scale / y.scale)
    lo = max(-128, y.zero_point + int(Q.tflite_round(float(np.float32(0.0) / np.float32(y.scale)))))
    return _unary(lw, op, "ekrt_relu_requant", (x.zero_point, y.zero_point, m, s, 0, lo, 127))


@lowers("RELU6")
def relu6(lw: Lowerer, op: Operator) -> Step:
    """RELU6: ekrt_clamp of the raw input to [zp_in, zp_in + round(6 / scale_in)], no requantization."""
    # TFLM's int8 RELU6 clamps the raw input to [zp_in, zp_in + round(6 / scale_in)]
    # and ignores the output quantization: do the same, bit for bit.
    x = lw.act(op, op.inputs[0])
    lw.out(op)
    six = x.zero_point + int(Q.tflite_round(float(np.float32(6.0) / np.float32(x.scale))))
    return _unary(lw, op, "ekrt_clamp", (x.zero_point, 0, 0, 0, 0, max(-128, x.zero_point),
                                         min(127, six)))


@lowers("LEAKY_RELU")
def leaky_relu(lw: Lowerer, op: Operator) -> Step:
    """LEAKY_RELU: ekrt_leaky_relu with multipliers scale_in / scale_out (x >= zp) and alpha * that (below)."""
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    alpha = float(np.float32(op.options.get("alpha", 0.2)))
    mi, si = Q.quantize_multiplier(x.scale / y.scale)
    ma, sa = Q.quantize_multiplier(x.scale * alpha / y.scale)
    return _unary(lw, op, "ekrt_leaky_relu", (x.zero_point, y.zero_point, mi, si, ma, sa, 0))


@lowers("HARD_SWISH")
def hard_swish(lw: Lowerer, op: Operator) -> Step:
    """HARD_SWISH: ekrt_lut over a 256-entry int8 table folding both quantizations, bit-exact with TFLM."""
    # A pure function of one int8: a 256-entry table computed here exactly as TFLM's
    # int16 fixed-point kernel would, then one lookup per element at run time.
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    try:
        table = Q.hard_swish_table(x.scale, x.zero_point, y.scale, y.zero_point)
    except ValueError as exc:
        raise lw.fail(op, str(exc)) from None
    name = f"op{op.index}"
    consts = [ConstArray(f"{name}_lut", "int8_t", np.array(table, dtype=np.int64))]
    return Step(op, [x.index], y.index, "", "", consts,
                f"ekrt_lut({name}_lut, {{in0}}, {{out}}, {x.size});",
                inplace_call=f"ekrt_lut({name}_lut, {{in0}}, {{in0}}, {x.size});")


@lowers("ADD", "SUB", "MUL")
def binary(lw: Lowerer, op: Operator) -> Step:
    """Two operands, either of them a constant, broadcast over up to 5 dimensions."""

    def params(a: Tensor, b: Tensor, y: Tensor) -> BinaryParams:
        lo, hi = Q.activation_range(op.options.get("fused_activation_function"), y.scale,
                                    y.zero_point)
        if op.op in ("ADD", "SUB"):
            return Q.add_params(a.scale, b.scale, y.scale), lo, hi
        mo, sho = Q.quantize_multiplier(a.scale * b.scale / y.scale)
        return {"m1": 0, "sh1": 0, "m2": 0, "sh2": 0, "mo": mo, "sho": sho, "left_shift": 0}, lo, hi

    fn = {"ADD": "ekrt_add", "SUB": "ekrt_sub", "MUL": "ekrt_mul"}[op.op]
    a, b, y = (lw.tensor(i) for i in (*op.inputs[:2], op.outputs[0]))
    if (a.is_constant != b.is_constant and (b if b.is_constant else a).size == 1
            and (a if b.is_constant else b).size == y.size):
        # One operand a constant scalar: each output a function of one int8 input (ekrt_lut).
        k = 0 if b.is_constant else 1
        x = lw.act(op, op.inputs[k])
        c = lw.tensor(op.inputs[1 - k])
        lw.const_operand(op, op.inputs[1 - k])
        y = lw.out(op)
        p, lo, hi = params(a, b, y)
        table = scalar_table(op.op, p, lo, hi, x.zero_point, int(values(c).reshape(-1)[0]) - c.zero_point,
                             y.zero_point, constant_first=k == 1)
        name = f"op{op.index}_lut"
        return Step(op, [x.index], y.index, "", "", [ConstArray(name, "int8_t", table)],
                    f"ekrt_lut({name}, {{in0}}, {{out}}, {x.size});",
                    inplace_call=f"ekrt_lut({name}, {{in0}}, {{in0}}, {x.size});")
    if op.op == "ADD" and a.size == b.size == y.size >= ADD_LUT_MIN_ELEMENTS and not (a.is_constant or b.is_constant):
        # (checked as broadcast_binary checks them, before their scales are read)
        tables = add_tables(lw.act(op, op.inputs[0]), lw.act(op, op.inputs[1]), lw.out(op))
        if tables is not None:
            step = broadcast_binary(lw, op, "ekrt_add_lut", params, lead=f"op{op.index}_t, ")
            step.consts.append(ConstArray(f"op{op.index}_t", "int32_t", tables))
            return step
    return broadcast_binary(lw, op, fn, params)


def scalar_table(kind: str, p: dict[str, int], lo: int, hi: int, x_zp: int, c: int, y_zp: int,
                 constant_first: bool) -> np.ndarray:
    """ADD/SUB/MUL of an int8 activation x and a constant scalar (c: its value less its zero
    point) for the 256 values of x, by TFLM's integer arithmetic (ekrt_elementwise.c's add1,
    sub1, mul1): out[(uint8)x]; constant_first: the constant is the first operand."""
    mq = Q.multiply_by_quantized_multiplier
    table = np.zeros(256, dtype=np.int64)
    for v in range(-128, 128):
        xs = [v - x_zp, c][::-1] if constant_first else [v - x_zp, c]
        if kind == "MUL":
            acc = mq(xs[0] * xs[1], p["mo"], p["sho"])
        else:
            t1 = mq(xs[0] << p["left_shift"], p["m1"], p["sh1"])
            t2 = mq(xs[1] << p["left_shift"], p["m2"], p["sh2"])
            acc = mq(Q._i32(t1 + t2 if kind == "ADD" else t1 - t2), p["mo"], p["sho"])
        table[v & 0xFF] = max(lo, min(hi, acc + y_zp))
    return table


# From this many elements an ADD of two activations spends 2 KB of flash on ekrt_add_lut's tables
# (about 30 instructions an element less on Cortex-M4).
ADD_LUT_MIN_ELEMENTS = 1024


def add_tables(a: Tensor, b: Tensor, y: Tensor) -> np.ndarray | None:
    """ekrt_add_lut's tables: for each input, its term of TFLM's ADD (the zero point removed,
    shifted left, rescaled) for the int8 values in the order of their bytes read unsigned (0..127,
    -128..-1); None when a term reaches 2^29 (the kernel's bound for its output multiply)."""
    p = Q.add_params(a.scale, b.scale, y.scale)
    v = np.arange(256).astype(np.uint8).view(np.int8)
    t = [[Q.multiply_by_quantized_multiplier((int(x) - t.zero_point) << p["left_shift"], p[m], p[sh])
          for x in v] for t, m, sh in ((a, "m1", "sh1"), (b, "m2", "sh2"))]
    out = np.array(t, dtype=np.int64).reshape(-1)
    return out if np.all(np.abs(out) < (1 << 29)) else None


# An ekrt_binary_t's multipliers (m1, sh1, m2, sh2, mo, sho, left_shift) and output range.
BinaryParams = tuple[dict[str, int], int, int]


def two_operands(lw: Lowerer, op: Operator) -> tuple[list[Tensor], list[str], list[int], list[ConstArray]]:
    """The op's first two int8 operands, either of them constant: their tensors, the C
    expressions a call passes ({inK} for an activation, a C array for a constant), the
    activation inputs in order, and the constant arrays."""
    name = f"op{op.index}"
    consts: list[ConstArray] = []
    operands: list[str] = []
    act_inputs: list[int] = []
    tensors: list[Tensor] = []
    for k, idx in enumerate(op.inputs[:2]):
        t = lw.tensor(idx)
        if t.is_constant:
            lw.const_operand(op, idx)
            consts.append(ConstArray(f"{name}_c{k}", "int8_t", values(t).reshape(-1)))
            operands.append(f"{name}_c{k}")
        else:
            lw.act(op, idx)
            operands.append(f"{{in{len(act_inputs)}}}")
            act_inputs.append(idx)
        tensors.append(t)
    return tensors, operands, act_inputs, consts


def broadcast_binary(lw: Lowerer, op: Operator, fn: str,
                     params: Callable[[Tensor, Tensor, Tensor], BinaryParams], lead: str = "") -> Step:
    """The Step of an ekrt_binary_t kernel `fn` on the op's two operands (a constant one
    becomes a C array), broadcast over up to 5 dimensions; `params(a, b, y)`, called once the
    operands are checked, gives the multipliers and the output range; `lead`: the call's
    arguments between the parameters and the operands."""
    y = lw.out(op)
    (a, b), operands, act_inputs, consts = two_operands(lw, op)
    shape = tuple(y.shape)
    rank = len(shape)
    if rank > 5 or len(a.shape) > rank or len(b.shape) > rank:
        raise lw.fail(op, "has rank > 5" if rank > 5 else "has an operand of higher rank than its output")
    dims = [1] * (5 - rank) + list(shape)

    def strides(t: Tensor) -> list[int]:
        s = [1] * (5 - len(t.shape)) + list(t.shape)
        out, acc = [0] * 5, 1
        for i in range(4, -1, -1):
            out[i] = 0 if s[i] == 1 and dims[i] != 1 else acc
            acc *= s[i]
        return out

    broadcast = not (a.size == b.size == y.size)
    p, lo, hi = params(a, b, y)
    init = (f"{{{{{c_list(dims)}}}, {{{c_list(strides(a))}}}, {{{c_list(strides(b))}}}, "
            f"{y.size}, {1 if broadcast else 0}, {-a.zero_point}, {-b.zero_point}, "
            f"{y.zero_point}, {p['m1']}, {p['m2']}, {p['mo']}, {p['sh1']}, {p['sh2']}, "
            f"{p['sho']}, {p['left_shift']}, {lo}, {hi}}}")
    o1, o2 = operands
    step = Step(op, act_inputs, y.index, "ekrt_binary_t", init, consts,
                f"{fn}(&{{params}}, {lead}{o1}, {o2}, {{out}});")
    # Elementwise: output element i depends only on element i of a full-size input (its
    # broadcast index advances with the output's), so such an input may be overwritten.
    full = tuple(k for k, t in enumerate(act_inputs) if lw.tensor(t).size == y.size)
    if full and len(set(act_inputs)) == len(act_inputs):
        step.inplace_call = f"{fn}(&{{params}}, {lead}{o1}, {o2}, {{inp}});"
        step.inplace_inputs = full
    return step
