"""edgekit-rt lowerings of 16x8 models (TF's EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8:
int16 activations, int8 weights, int64 biases), onto the kernels of ekrt_kernels16.h.

An operator whose output or first activation input is int16 is lowered here (`int16_op`);
lower.py dispatches. The ops that only move values reuse the int8 lowerings' parameters
through `Lowerer16` (their int8 checks widened to int16) and call the int16 kernel instead.
The arithmetic is TFLM's int16 reference kernels': int64 sums and the 16-bit-multiplier
MultiplyByQuantizedMultiplier for the weighted ops, left shift 15 for ADD/SUB.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from edgekit.codegen import lower_elementwise, lower_nn, lower_recurrent, lower_select, lower_shape
from edgekit.codegen import quant as Q
from edgekit.codegen.lower_base import ConstArray, Lowerer, Lowering, Step, c_list, values
from edgekit.codegen.lower_resample import transpose_conv_geometry
from edgekit.codegen.quant16 import act_range16, checked_log2, softmax16_tables
from edgekit.model.tflite_graph import Operator, Tensor

# Operator name -> its int16 lowering (filled by @lowers16).
INT16_LOWERINGS: dict[str, Lowering] = {}
# int16 at one side only: the int8 registry's lowering handles them (QUANTIZE, DEQUANTIZE).
INT16_EDGE_OPS = ("QUANTIZE", "DEQUANTIZE")
# TfLiteType kTfLiteInt32 (a conv's quantized_bias_type: TFLM's int32-accumulator variant).
_TFLITE_INT32 = 2


def lowers16(*ops: str) -> Callable[[Lowering], Lowering]:
    """Register the decorated function as the int16 lowering of `ops`."""

    def register(fn: Lowering) -> Lowering:
        for name in ops:
            INT16_LOWERINGS[name] = fn
        return fn

    return register


def int16_op(lw: Lowerer, op: Operator) -> bool:
    """Whether `op` computes on int16 activations (its output or first activation input)."""
    ts = [lw.tensor(i) for i in op.outputs[:1]] + [
        lw.tensor(i) for i in op.inputs if i >= 0 and not lw.tensor(i).is_constant][:1]
    return any(t.dtype == "int16" for t in ts)


class Lowerer16(Lowerer):
    """A Lowerer whose int8 activation and constant-operand checks accept int16 instead."""

    def act(self, op: Operator, i: int, dtypes: tuple[str, ...] = ("int8",)) -> Tensor:
        """Lowerer.act with int16 for int8."""
        return super().act(op, i, _widen(dtypes))

    def out(self, op: Operator, dtypes: tuple[str, ...] = ("int8",)) -> Tensor:
        """Lowerer.out with int16 for int8."""
        return super().out(op, _widen(dtypes))

    def const_operand(self, op: Operator, i: int) -> Tensor:
        """A constant per-tensor quantized int16 operand (ADD/SUB/MUL)."""
        t = self.tensor(i)
        if t.dtype != "int16":
            raise self.fail(op, f"has a {t.dtype} constant '{t.name}'")
        return self._per_tensor(op, t)


def _widen(dtypes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("int16" if d == "int8" else d for d in dtypes)


_IN16 = "(const int16_t *)(const void *)"
_OUT16 = "(int16_t *)(void *)"


def _cast16(call: str) -> str:
    """An int8 kernel call's planner pointers ({inN}, {out}) cast to the int16 kernel's types."""
    return re.sub(r"\{(in\d+)\}", _IN16 + r"{\1}", call).replace("{out}", _OUT16 + "{out}")


def _retarget(step: Step, fn: str) -> Step:
    """An int8 Step calling the int16 kernel `fn` (same parameters) instead, not in place."""
    step.call = _cast16(re.sub(r"ekrt_\w+\(", fn + "(", step.call, count=1))
    step.inplace_call = None
    return step


def _zero_zp(lw: Lowerer, op: Operator, *ts: Tensor) -> None:
    for t in ts:
        if t.zero_point != 0:
            raise lw.fail(op, f"has int16 tensor '{t.name}' with zero point {t.zero_point} "
                              "(TFLM's int16 kernels need 0)")


# ------------------------------------------------------------------ weighted ops

def _conv16_params(lw: Lowerer, op: Operator, x: Tensor, w: Tensor, y: Tensor, oc: int,
                   bias_idx: int, consts: list[ConstArray]) -> str:
    """The trailing fields of ekrt_conv16_t (w, bias, mult, shift, act_min, act_max, acc32),
    their arrays appended to `consts`."""
    _zero_zp(lw, op, x, y)
    name = f"op{op.index}"
    if w.quant is None or np.any(w.quant.zero_point != 0):
        raise lw.fail(op, f"has weights '{w.name}' without symmetric quantization")
    scales = w.quant.scale.reshape(-1)
    if scales.size not in (1, oc):
        raise lw.fail(op, f"has {scales.size} weight scales for {oc} channels")
    mults, shifts = (np.resize(v, oc) for v in Q.conv_multipliers(x.scale, scales, y.scale))
    acc32 = op.options.get("quantized_bias_type", 0) == _TFLITE_INT32
    bias = "0"
    if bias_idx >= 0:
        b = lw.tensor(bias_idx)
        if b.dtype not in ("int32", "int64"):
            raise lw.fail(op, f"has a {b.dtype} bias '{b.name}' (int64 or int32 expected)")
        bv = values(lw.const(op, bias_idx, b.dtype)).reshape(-1).astype(np.int64)
        if bv.size != oc:
            raise lw.fail(op, f"has {bv.size} biases for {oc} output channels")
        acc32 = b.dtype == "int32"
        consts.append(ConstArray(f"{name}_b", "int64_t", bv))
        bias = f"{name}_b"
    consts.append(ConstArray(f"{name}_m", "int32_t", np.asarray(mults, dtype=np.int64)))
    consts.append(ConstArray(f"{name}_s", "int8_t", np.asarray(shifts, dtype=np.int64)))
    lo, hi = act_range16(op.options.get("fused_activation_function"), y.scale, y.zero_point)
    return f"{name}_w, {bias}, {name}_m, {name}_s, {lo}, {hi}, {int(acc32)}"


def _int16_io(lw: Lowerer, op: Operator, idx: int) -> tuple[Tensor, Tensor]:
    return lw.act(op, idx, ("int16",)), lw.out(op, ("int16",))


@lowers16("CONV_2D")
def conv_2d(lw: Lowerer, op: Operator) -> Step:
    """CONV_2D (grouped too): ekrt_conv2d_s16 on OHWI weights."""
    x, y = _int16_io(lw, op, op.inputs[0])
    w = lw.const(op, op.inputs[1], "int8")
    o = op.options
    oc, kh, kw, icg = w.shape
    _, ih, iw, ic = x.shape
    if y.shape[3] != oc or ic % icg or oc % (ic // icg):
        raise lw.fail(op, "has inconsistent channel counts")
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    dh, dw = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    ph, pw = lw.window_padding(op, x, y, kh, kw, sh, sw, dh, dw)
    consts = [ConstArray(f"op{op.index}_w", "int8_t", values(w).reshape(-1))]
    tail = _conv16_params(lw, op, x, w, y, oc, op.inputs[2] if len(op.inputs) > 2 else -1, consts)
    init = (f"{{{ih}, {iw}, {ic}, {y.shape[1]}, {y.shape[2]}, {oc}, {kh}, {kw}, {sh}, {sw}, "
            f"{dh}, {dw}, {ph}, {pw}, {ic // icg}, {tail}}}")
    return Step(op, [x.index], y.index, "ekrt_conv16_t", init, consts,
                _cast16("ekrt_conv2d_s16(&{params}, {in0}, {out});"),
                macs=y.size * kh * kw * icg)


@lowers16("DEPTHWISE_CONV_2D")
def depthwise_conv_2d(lw: Lowerer, op: Operator) -> Step:
    """DEPTHWISE_CONV_2D: ekrt_dwconv_s16 on [k_h][k_w][out_c] weights."""
    x, y = _int16_io(lw, op, op.inputs[0])
    w = lw.const(op, op.inputs[1], "int8")
    o = op.options
    _, kh, kw, oc = w.shape
    _, ih, iw, ic = x.shape
    if y.shape[3] != oc or oc % ic:
        raise lw.fail(op, "has inconsistent channel counts")
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    dh, dw = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    ph, pw = lw.window_padding(op, x, y, kh, kw, sh, sw, dh, dw)
    consts = [ConstArray(f"op{op.index}_w", "int8_t", values(w).reshape(-1))]
    tail = _conv16_params(lw, op, x, w, y, oc, op.inputs[2] if len(op.inputs) > 2 else -1, consts)
    init = (f"{{{ih}, {iw}, {ic}, {y.shape[1]}, {y.shape[2]}, {oc}, {kh}, {kw}, {sh}, {sw}, "
            f"{dh}, {dw}, {ph}, {pw}, {oc // ic}, {tail}}}")
    return Step(op, [x.index], y.index, "ekrt_conv16_t", init, consts,
                _cast16("ekrt_dwconv_s16(&{params}, {in0}, {out});"), macs=y.size * kh * kw)


@lowers16("FULLY_CONNECTED")
def fully_connected(lw: Lowerer, op: Operator) -> Step:
    """FULLY_CONNECTED: ekrt_fully_connected_s16, rows of in_dim inputs."""
    x, y = _int16_io(lw, op, op.inputs[0])
    w = lw.const(op, op.inputs[1], "int8")
    if len(w.shape) != 2:
        raise lw.fail(op, f"has weights of rank {len(w.shape)}")
    out_dim, in_dim = w.shape
    if x.size % in_dim or y.size != x.size // in_dim * out_dim:
        raise lw.fail(op, "has inconsistent shapes")
    rows = x.size // in_dim
    consts = [ConstArray(f"op{op.index}_w", "int8_t", values(w).reshape(-1))]
    tail = _conv16_params(lw, op, x, w, y, out_dim, op.inputs[2] if len(op.inputs) > 2 else -1,
                          consts)
    init = f"{{{rows}, 1, {in_dim}, 1, 1, {out_dim}, 1, 1, 1, 1, 1, 1, 0, 0, 1, {tail}}}"
    return Step(op, [x.index], y.index, "ekrt_conv16_t", init, consts,
                _cast16("ekrt_fully_connected_s16(&{params}, {in0}, {out});"),
                macs=rows * in_dim * out_dim)


@lowers16("TRANSPOSE_CONV")
def transpose_conv(lw: Lowerer, op: Operator) -> Step:
    """TRANSPOSE_CONV: ekrt_transpose_conv_s16 gathering each output pixel's int64 sums. The
    output-shape operand may be a graph input: TFLM reads only the output tensor's shape."""
    if len(op.inputs) < 3:
        raise lw.fail(op, f"has {len(op.inputs)} inputs (output shape, weights, input expected)")
    x, y = _int16_io(lw, op, op.inputs[2])
    w = lw.const(op, op.inputs[1], "int8")
    if len(x.shape) != 4 or len(y.shape) != 4 or len(w.shape) != 4 or x.shape[0] != 1:
        raise lw.fail(op, "needs 4-D NHWC tensors with batch 1")
    shape_t = lw.tensor(op.inputs[0])
    if shape_t.is_constant and [int(v) for v in values(shape_t).reshape(-1)] != list(y.shape):
        raise lw.fail(op, f"has output shape {values(shape_t).tolist()} but outputs {tuple(y.shape)}")
    oc, kh, kw, ic, ih, iw, oh, ow, sh, sw, ph, pw = transpose_conv_geometry(lw, op, x, w, y)
    consts = [ConstArray(f"op{op.index}_w", "int8_t", values(w).reshape(-1))]
    tail = _conv16_params(lw, op, x, w, y, oc, op.inputs[3] if len(op.inputs) > 3 else -1, consts)
    init = (f"{{{ih}, {iw}, {ic}, {oh}, {ow}, {oc}, {kh}, {kw}, {sh}, {sw}, 1, 1, {ph}, {pw}, 1, "
            f"{tail}}}")
    return Step(op, [x.index], y.index, "ekrt_conv16_t", init, consts,
                _cast16("ekrt_transpose_conv_s16(&{params}, {in0}, {out}, (int64_t *)(void *){scratch});"),
                scratch=8 * oc, macs=ih * iw * kh * kw * ic * oc)


# ------------------------------------------------------------------ elementwise

def _add_sub_params(op: Operator, a: Tensor, b: Tensor, y: Tensor) -> lower_elementwise.BinaryParams:
    """TFLM's int16 ADD/SUB multipliers, left shift 15, in double from the float32 scales. (The
    TFLM tree of 2026-08-20 computes SUB's in float; the tflite_micro package, the reference,
    in double: the float form is 1 LSB off on some outputs of TFLM's SEANet SUB models.)"""
    twice = 2 * float(max(np.float32(a.scale), np.float32(b.scale)))
    m1, sh1 = Q.quantize_multiplier(float(a.scale) / twice)
    m2, sh2 = Q.quantize_multiplier(float(b.scale) / twice)
    mo, sho = Q.quantize_multiplier(twice / ((1 << 15) * float(y.scale)))
    lo, hi = act_range16(op.options.get("fused_activation_function"), y.scale, y.zero_point)
    return {"m1": m1, "sh1": sh1, "m2": m2, "sh2": sh2, "mo": mo, "sho": sho, "left_shift": 15}, lo, hi


@lowers16("ADD", "SUB", "MUL")
def binary(lw: Lowerer, op: Operator) -> Step:
    """ADD/SUB (TFLM's general int16 path) and MUL, broadcast over up to 5 dimensions."""

    def params(a: Tensor, b: Tensor, y: Tensor) -> lower_elementwise.BinaryParams:
        _zero_zp(lw, op, a, b, y)
        if op.op in ("ADD", "SUB"):
            return _add_sub_params(op, a, b, y)
        mo, sho = Q.quantize_multiplier(float(a.scale) * float(b.scale) / float(y.scale))
        lo, hi = act_range16(op.options.get("fused_activation_function"), y.scale, y.zero_point)
        return {"m1": 0, "sh1": 0, "m2": 0, "sh2": 0, "mo": mo, "sho": sho, "left_shift": 0}, lo, hi

    fn = {"ADD": "ekrt_add_s16", "SUB": "ekrt_sub_s16", "MUL": "ekrt_mul_s16"}[op.op]
    step = _retarget(lower_elementwise.broadcast_binary(Lowerer16(lw.graph), op, fn, params), fn)
    for c in step.consts:   # a constant operand: int16 data
        c.ctype = "int16_t"
    return step


def _unary16(lw: Lowerer, op: Operator, fn: str, fields: tuple[int, ...]) -> Step:
    x, y = _int16_io(lw, op, op.inputs[0])
    init = "{" + ", ".join(str(int(v)) for v in (x.size,) + fields) + "}"
    return Step(op, [x.index], y.index, "ekrt_unary_t", init, [],
                _cast16(f"{fn}(&{{params}}, {{in0}}, {{out}});"),
                inplace_call=f"{fn}(&{{params}}, {_IN16}{{in0}}, {_OUT16}{{in0}});")


@lowers16("LEAKY_RELU")
def leaky_relu(lw: Lowerer, op: Operator) -> Step:
    """LEAKY_RELU: ekrt_leaky_relu_s16; the multipliers in double from the float32 scales and
    alpha, as the tflite_micro package computes them (see the int16 tests)."""
    x, y = _int16_io(lw, op, op.inputs[0])
    alpha = float(np.float32(op.options.get("alpha", 0.2)))
    mi, si = Q.quantize_multiplier(float(x.scale) / float(y.scale))
    ma, sa = Q.quantize_multiplier(float(x.scale) * alpha / float(y.scale))
    return _unary16(lw, op, "ekrt_leaky_relu_s16", (x.zero_point, y.zero_point, mi, si, ma, sa, 0))


@lowers16("RELU", "RELU6")
def relu(lw: Lowerer, op: Operator) -> Step:
    """RELU: TFLM's int16 ReluQuantized (rescaled by the float32 quotient of the scales,
    clamped at the output's 0); RELU6: its Relu6Quantized, the raw input clamped to
    [zp_in, zp_in + round(6 / scale_in)] (an identity multiplier)."""
    x, y = _int16_io(lw, op, op.inputs[0])
    if op.op == "RELU6":
        six = min(32767, x.zero_point + int(Q.tflite_round(float(np.float32(6.0) / np.float32(x.scale)))))
        return _unary16(lw, op, "ekrt_relu_requant_s16", (0, 0, 1 << 30, 1, 0, x.zero_point, six))
    m, s = Q.quantize_multiplier(float(np.float32(x.scale) / np.float32(y.scale)))
    return _unary16(lw, op, "ekrt_relu_requant_s16",
                    (x.zero_point, y.zero_point, m, s, 0, max(-32768, y.zero_point), 32767))


@lowers16("LOGISTIC", "TANH")
def logistic_tanh(lw: Lowerer, op: Operator) -> Step:
    """LOGISTIC/TANH: ekrt_logistic_s16/ekrt_tanh_s16 with the input multiplier and left shift
    of TFLM's int16 Prepare (power-of-two input scales kept exact: multiplier 0)."""
    x, y = _int16_io(lw, op, op.inputs[0])
    _zero_zp(lw, op, x, y)
    if checked_log2(y.scale) != (True, -15):
        raise lw.fail(op, f"has output scale {y.scale} (TFLM's int16 {op.op} needs 2^-15)")
    pot, log2 = checked_log2(x.scale)
    shift = 12 + log2
    if pot and (shift == 0 or (op.op == "TANH" and shift == 1)):
        mult = 0
    else:
        m, shift = float(np.float32(x.scale)) * 4096.0 * 3.0, 0
        while m <= 32767.0 / 2.0 and shift <= 30:
            shift, m = shift + 1, m * 2.0
        mult = int(m)
    fn = "ekrt_logistic_s16" if op.op == "LOGISTIC" else "ekrt_tanh_s16"
    return _unary16(lw, op, fn, (0, 0, mult, shift, 0, 0, 0))


# ------------------------------------------------------------------ moves and pools

@lowers16("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def alias(lw: Lowerer, op: Operator) -> Step:
    """An alias of the input's memory, as for int8."""
    return lower_shape.alias(Lowerer16(lw.graph), op)


@lowers16("STRIDED_SLICE")
def strided_slice(lw: Lowerer, op: Operator) -> Step:
    """STRIDED_SLICE: ekrt_strided_slice_s16 with the int8 lowering's start/step/count."""
    return _retarget(lower_recurrent.strided_slice(Lowerer16(lw.graph), op), "ekrt_strided_slice_s16")


@lowers16("TRANSPOSE", "TILE")
def strided_copy(lw: Lowerer, op: Operator) -> Step:
    """TRANSPOSE/TILE: the int8 lowerings' strided copies over int16 elements."""
    fn = lower_select.transpose if op.op == "TRANSPOSE" else lower_select.tile
    return _retarget(fn(Lowerer16(lw.graph), op), "ekrt_strided_slice_s16")


@lowers16("CONCATENATION")
def concatenation(lw: Lowerer, op: Operator) -> Step:
    """CONCATENATION: ekrt_concat_s16 (TFLM's int16 concatenation copies, no rescaling)."""
    step = _retarget(lower_shape.concatenation(Lowerer16(lw.graph), op), "ekrt_concat_s16")
    step.call = step.call.replace("const int8_t *const ins[]", "const int16_t *const ins[]")
    return step


@lowers16("PAD", "PADV2")
def pad(lw: Lowerer, op: Operator) -> Step:
    """PAD/PADV2 up to 4-D: ekrt_pad_s16 filling with the output zero point (PADV2: its value)."""
    x, y = _int16_io(lw, op, op.inputs[0])
    pads = values(lw.const(op, op.inputs[1], "int32")).reshape(-1, 2)
    rank = len(x.shape)
    if rank > 4:
        raise lw.fail(op, "has rank > 4")
    value = y.zero_point
    if op.op == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = int(values(lw.const(op, op.inputs[2], "int16")).reshape(-1)[0])
    ind, outd = [1] * (4 - rank) + list(x.shape), [1] * (4 - rank) + list(y.shape)
    before = [0] * (4 - rank) + [int(p) for p in pads[:, 0]]
    init = f"{{{{{c_list(ind)}}}, {{{c_list(outd)}}}, {{{c_list(before)}}}, {value}}}"
    return Step(op, [x.index], y.index, "ekrt_pad16_t", init, [],
                _cast16("ekrt_pad_s16(&{params}, {in0}, {out});"))


@lowers16("AVERAGE_POOL_2D", "MAX_POOL_2D")
def pool_2d(lw: Lowerer, op: Operator) -> Step:
    """AVERAGE_POOL_2D/MAX_POOL_2D: ekrt_avgpool_s16/ekrt_maxpool_s16 on the int8 lowering's
    window, clamped to the fused activation's int16 range."""
    step = lower_nn.pool_2d(Lowerer16(lw.graph), op)
    y = lw.tensor(op.outputs[0])
    lo, hi = act_range16(op.options.get("fused_activation_function"), y.scale, y.zero_point)
    step.params_init = re.sub(r"-?\d+, -?\d+\}$", f"{lo}, {hi}}}", step.params_init)
    fn = "ekrt_avgpool_s16" if op.op == "AVERAGE_POOL_2D" else "ekrt_maxpool_s16"
    return _retarget(step, fn)


@lowers16("SOFTMAX")
def softmax(lw: Lowerer, op: Operator) -> Step:
    """SOFTMAX over the last axis: ekrt_softmax_s16 with TFLM's beta * scale_in / (10 / 65535)
    multiplier and its two tables (quant16.softmax16_tables)."""
    x, y = _int16_io(lw, op, op.inputs[0])
    _zero_zp(lw, op, x, y)
    if abs(float(y.scale) - 1 / 32768) > 0.001 / 32768:
        raise lw.fail(op, f"has output scale {y.scale} (TFLM's int16 SOFTMAX needs 1/32768)")
    beta = float(np.float32(op.options.get("beta", 1.0)))
    m, s = Q.quantize_multiplier(float(x.scale) * beta / (10.0 / 65535.0))
    depth = x.shape[-1] if x.shape else 1
    name = f"op{op.index}"
    exp_lut, recip = softmax16_tables()
    consts = [ConstArray(f"{name}_exp", "int16_t", np.array(exp_lut, dtype=np.int64)),
              ConstArray(f"{name}_rcp", "int16_t", np.array(recip, dtype=np.int64))]
    init = f"{{{x.size // depth}, {depth}, {m}, {s}, {name}_exp, {name}_rcp}}"
    return Step(op, [x.index], y.index, "ekrt_softmax16_t", init, consts,
                _cast16("ekrt_softmax_s16(&{params}, {in0}, {out});"))


@lowers16("MEAN", "SUM")
def mean(lw: Lowerer, op: Operator) -> Step:
    """MEAN/SUM: ekrt_mean_s16 with the int8 lowering's multiplier (TFLM's QuantizedMeanOrSum is
    one template for both types)."""
    return _retarget(lower_nn.mean(Lowerer16(lw.graph), op), "ekrt_mean_s16")


INT16_OPS: tuple[str, ...] = tuple(sorted(INT16_LOWERINGS))
