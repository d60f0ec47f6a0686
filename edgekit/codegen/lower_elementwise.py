"""edgekit-rt lowerings of the elementwise operators: activations, requantization and
broadcasting ADD/SUB/MUL. All of them may run in place."""

from __future__ import annotations

import numpy as np

from edgekit.codegen import quant as Q
from edgekit.codegen.lower_base import ConstArray, Lowerer, Step, c_list, lowers, values
from edgekit.model.tflite_graph import Operator, Tensor


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


@lowers("QUANTIZE")
def quantize(lw: Lowerer, op: Operator) -> Step:
    """QUANTIZE int8 -> int8: ekrt_requantize with both zero points and the scale_in / scale_out multiplier."""
    y = lw.out(op)
    x = lw.act(op, op.inputs[0])
    m, s = Q.quantize_multiplier(x.scale / y.scale)
    return _unary(lw, op, "ekrt_requantize", (x.zero_point, y.zero_point, m, s, 0, -128, 127))


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
    y = lw.out(op)
    name = f"op{op.index}"
    consts: list[ConstArray] = []
    operands: list[str] = []
    act_inputs: list[int] = []
    ab: list[Tensor] = []
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
        ab.append(t)
    a, b = ab
    shape = tuple(y.shape)
    rank = len(shape)
    if rank > 5:
        raise lw.fail(op, "has rank > 5")
    dims = [1] * (5 - rank) + list(shape)

    def strides(t: Tensor) -> list[int]:
        s = [1] * (5 - len(t.shape)) + list(t.shape)
        out, acc = [0] * 5, 1
        for i in range(4, -1, -1):
            out[i] = 0 if s[i] == 1 and dims[i] != 1 else acc
            acc *= s[i]
        return out

    broadcast = not (a.size == b.size == y.size)
    lo, hi = Q.activation_range(op.options.get("fused_activation_function"), y.scale,
                                y.zero_point)
    if op.op in ("ADD", "SUB"):
        p = Q.add_params(a.scale, b.scale, y.scale)
    else:
        mo, sho = Q.quantize_multiplier(a.scale * b.scale / y.scale)
        p = {"m1": 0, "sh1": 0, "m2": 0, "sh2": 0, "mo": mo, "sho": sho, "left_shift": 0}
    init = (f"{{{{{c_list(dims)}}}, {{{c_list(strides(a))}}}, {{{c_list(strides(b))}}}, "
            f"{y.size}, {1 if broadcast else 0}, {-a.zero_point}, {-b.zero_point}, "
            f"{y.zero_point}, {p['m1']}, {p['m2']}, {p['mo']}, {p['sh1']}, {p['sh2']}, "
            f"{p['sho']}, {p['left_shift']}, {lo}, {hi}}}")
    fn = {"ADD": "ekrt_add", "SUB": "ekrt_sub", "MUL": "ekrt_mul"}[op.op]
    o1, o2 = operands
    step = Step(op, act_inputs, y.index, "ekrt_binary_t", init, consts,
                f"{fn}(&{{params}}, {o1}, {o2}, {{out}});")
    # Elementwise: output element i depends only on element i of a full-size input (its
    # broadcast index advances with the output's), so such an input may be overwritten.
    full = tuple(k for k, t in enumerate(act_inputs) if lw.tensor(t).size == y.size)
    if full and len(set(act_inputs)) == len(act_inputs):
        step.inplace_call = f"{fn}(&{{params}}, {o1}, {o2}, {{inp}});"
        step.inplace_inputs = full
    return step
