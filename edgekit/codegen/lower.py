"""Lower a TFLite graph to a list of edgekit-rt kernel calls (validation included).

Each supported operator becomes a `Step`: the C kernel to call, its parameter struct
initializer, the constant arrays it needs, the activation tensors it reads and writes, its
scratch need, and whether it may run in place. Anything outside the supported set is a
ModelError naming the operator, its index and its output tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from edgekit.codegen import quant as Q
from edgekit.errors import ModelError
from edgekit.model.tflite_graph import Graph, Operator, Tensor

ALIAS_OPS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")

SUPPORTED_OPS = (
    "FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D",
    "SOFTMAX", "ADD", "MUL", "LOGISTIC", "TANH", "QUANTIZE", "RELU", "RELU6",
    "CONCATENATION", "PAD", "PADV2", "MEAN", "SUB", "LEAKY_RELU", "HARD_SWISH",
) + ALIAS_OPS


@dataclass
class ConstArray:
    name: str
    ctype: str  # "int8_t", "int32_t"
    values: np.ndarray


@dataclass
class Step:
    """One kernel call. `call` is a format string over {in0}, {in1}, ..., {out}, {scratch},
    {params}; `inplace_call` (if set) is used when the planner puts the output on the
    memory of input `inplace_input` (one of `inplace_inputs`), written {inp} in it."""

    op: Operator
    kind: str
    inputs: list[int]            # activation tensor indices read
    output: int                  # activation tensor index written (-1 for aliases)
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
    alias_of: int | None = None  # for RESHAPE-like ops: the tensor aliased
    inplace: bool = False        # decided by the planner


def _fail(graph: Graph, op: Operator, why: str) -> ModelError:
    out = graph.tensors[op.outputs[0]].name if op.outputs else "?"
    return ModelError(
        f"operator {op.index} ({op.op}) producing tensor '{out}' {why}",
        hint="edgekit-rt cannot compile it; generate with `--runtime tflm` instead",
    )


def _scale(t: Tensor) -> float:
    return float(t.quant.scale[0]) if t.quant is not None else 1.0


def _zp(t: Tensor) -> int:
    return int(t.quant.zero_point[0]) if t.quant is not None else 0


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


def _arr(values: Any) -> str:
    return ", ".join(str(int(v)) for v in np.asarray(values).reshape(-1))


class Lowerer:
    def __init__(self, graph: Graph) -> None:
        self.g = graph

    # ---------------------------------------------------------------- helpers
    def t(self, i: int) -> Tensor:
        return self.g.tensors[i]

    def act(self, op: Operator, i: int) -> Tensor:
        """An activation (non-constant) int8 input."""
        t = self.t(i)
        if t.is_constant:
            raise _fail(self.g, op, f"has a constant input '{t.name}' where edgekit-rt needs "
                                    "an activation")
        if t.dtype != "int8":
            raise _fail(self.g, op, f"has a {t.dtype} input '{t.name}' (edgekit-rt is int8 only)")
        return t

    def const(self, op: Operator, i: int, dtype: str) -> Tensor:
        t = self.t(i)
        if not t.is_constant:
            raise _fail(self.g, op, f"needs constant '{t.name}' but it is computed at run time")
        if t.dtype != dtype:
            raise _fail(self.g, op, f"has {t.dtype} '{t.name}' where {dtype} is needed")
        return t

    def out(self, op: Operator) -> Tensor:
        t = self.t(op.outputs[0])
        if t.dtype != "int8":
            raise _fail(self.g, op, f"outputs {t.dtype} (edgekit-rt is int8 only)")
        return t

    def requant_init(self, name: str, op: Operator, x: Tensor, w: Tensor, y: Tensor,
                     n_channels: int, consts: list[ConstArray], acc_bound: int = 1 << 62) -> str:
        """Requantization initializer; acc_bound bounds |accumulator| over all int8 inputs."""
        small = 1 if acc_bound < (1 << 30) - 1 else 0
        if w.quant is None:
            raise _fail(self.g, op, f"has unquantized weights '{w.name}'")
        if np.any(w.quant.zero_point != 0):
            raise _fail(self.g, op, f"has weights '{w.name}' with a non-zero zero point")
        scales = w.quant.scale
        if scales.size not in (1, n_channels):
            raise _fail(self.g, op, f"has {scales.size} weight scales for {n_channels} channels")
        mults, shifts = Q.conv_multipliers(_scale(x), scales, _scale(y))
        lo, hi = Q.activation_range(op.options.get("fused_activation_function"), _scale(y), _zp(y))
        per_channel = 1 if scales.size > 1 else 0
        base = min(shifts)
        if per_channel and all(m >= (1 << 30) for m in mults) and max(shifts) - base <= 3:
            # Packed: bit 30 of every multiplier is 1; bits 31..30 carry shift - base.
            packed = [((m & 0x3FFFFFFF) | ((s - base) << 30)) for m, s in zip(mults, shifts)]
            packed = [v - (1 << 32) if v >= (1 << 31) else v for v in packed]
            consts.append(ConstArray(f"{name}_m", "int32_t", np.array(packed, dtype=np.int64)))
            vec = "ekrt_rq_vec_fast" if small and base <= -5 else "ekrt_rq_vec_generic"
            return f"{{{name}_m, 0, {_zp(y)}, {lo}, {hi}, 1, {base}, {small}, {vec}}}"
        consts.append(ConstArray(f"{name}_m", "int32_t", np.array(mults, dtype=np.int64)))
        consts.append(ConstArray(f"{name}_s", "int8_t", np.array(shifts, dtype=np.int64)))
        vec = "ekrt_rq_vec_fast_s" if small and max(shifts) <= -2 and min(mults) > 0 \
            else "ekrt_rq_vec_generic"
        return f"{{{name}_m, {name}_s, {_zp(y)}, {lo}, {hi}, {per_channel}, 0, {small}, {vec}}}"

    def folded_bias(self, op: Operator, name: str, w2d: np.ndarray, bias_idx: int, x: Tensor,
                    consts: list[ConstArray]) -> None:
        """bias + input_offset * sum(w) per output channel, wrapped to int32 like TFLM's sums."""
        n = w2d.shape[0]
        bias = np.zeros(n, dtype=np.int64)
        if bias_idx >= 0:
            b = self.const(op, bias_idx, "int32")
            bias = b.data.reshape(-1).astype(np.int64)
        folded = bias + (-_zp(x)) * w2d.astype(np.int64).sum(axis=1)
        # |acc| <= |folded bias| + 128 * sum|w| for any int8 input (padding reads the zp).
        self.acc_bound = int(np.max(np.abs(folded) + 128 * np.abs(w2d.astype(np.int64)).sum(axis=1)))
        folded = ((folded + (1 << 31)) % (1 << 32)) - (1 << 31)
        consts.append(ConstArray(f"{name}_b", "int32_t", folded))

    # ---------------------------------------------------------------- ops
    def lower(self) -> list[Step]:
        g = self.g
        if len(g.inputs) != 1 or len(g.outputs) != 1:
            raise ModelError(f"edgekit-rt supports single-input single-output models; this one "
                             f"has {len(g.inputs)} inputs and {len(g.outputs)} outputs",
                             hint="generate with `--runtime tflm` instead")
        for idx, what in ((g.inputs[0], "input"), (g.outputs[0], "output")):
            t = g.tensors[idx]
            if t.dtype != "int8":
                raise ModelError(f"model {what} '{t.name}' is {t.dtype}; edgekit-rt needs an int8 "
                                 f"{what}", hint="quantize with int8 input/output (`edgekit "
                                 "quantize`) or generate with `--runtime tflm`")
        steps = []
        for op in g.operators:
            fn: Callable[[Operator], Step] | None = getattr(self, "op_" + op.op, None)
            if op.op not in SUPPORTED_OPS or fn is None:
                raise _fail(g, op, "is not supported by edgekit-rt (supported: "
                            + ", ".join(sorted(SUPPORTED_OPS)) + ")")
            steps.append(fn(op))
        return steps

    def _alias(self, op: Operator) -> Step:
        x = self.act(op, op.inputs[0])
        y = self.out(op)
        if x.size != y.size:
            raise _fail(self.g, op, "changes the element count")
        return Step(op, "alias", [x.index], y.index, alias_of=x.index)

    op_RESHAPE = op_SQUEEZE = op_EXPAND_DIMS = _alias

    def op_FULLY_CONNECTED(self, op: Operator) -> Step:
        x = self.act(op, op.inputs[0])
        w = self.const(op, op.inputs[1], "int8")
        y = self.out(op)
        if len(w.shape) != 2:
            raise _fail(self.g, op, f"has weights of rank {len(w.shape)}")
        out_dim, in_dim = w.shape
        if x.size % in_dim or y.size != x.size // in_dim * out_dim:
            raise _fail(self.g, op, "has inconsistent shapes")
        batches = x.size // in_dim
        name = f"op{op.index}"
        consts = [ConstArray(f"{name}_w", "int8_t", block_weights(w.data.reshape(out_dim, in_dim)))]
        bias_idx = op.inputs[2] if len(op.inputs) > 2 else -1
        self.folded_bias(op, name, w.data.reshape(out_dim, in_dim), bias_idx, x, consts)
        rq = self.requant_init(name, op, x, w, y, out_dim, consts, self.acc_bound)
        init = f"{{{batches}, {in_dim}, {out_dim}, {name}_w, {name}_b, {rq}}}"
        # The two-row kernel when there are row pairs, or when convolutions link it anyway.
        fn = "ekrt_fully_connected_x2" if batches > 1 or "CONV_2D" in self.g.op_names() \
            else "ekrt_fully_connected"
        return Step(op, "FULLY_CONNECTED", [x.index], y.index, "ekrt_fc_t", init, consts,
                    fn + "(&{params}, {in0}, {out});", macs=batches * in_dim * out_dim)

    def _conv_geometry(self, op: Operator, x: Tensor, y: Tensor, kh: int, kw: int,
                       sh: int, sw: int, dh: int, dw: int) -> tuple[int, int]:
        if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[0] != 1:
            raise _fail(self.g, op, "needs 4-D NHWC tensors with batch 1")
        pads = []
        for n_in, n_out, k, s, d in ((x.shape[1], y.shape[1], kh, sh, dh),
                                     (x.shape[2], y.shape[2], kw, sw, dw)):
            eff = (k - 1) * d + 1
            total = (n_out - 1) * s + eff - n_in
            pads.append(max(total, 0) // 2)
        if op.options.get("padding", "SAME") == "VALID":
            pads = [0, 0]
        return pads[0], pads[1]

    def op_CONV_2D(self, op: Operator) -> Step:
        x = self.act(op, op.inputs[0])
        w = self.const(op, op.inputs[1], "int8")
        y = self.out(op)
        o = op.options
        oc, kh, kw, icg = w.shape
        _, ih, iw, ic = x.shape
        _, oh, ow, oc2 = y.shape
        if oc2 != oc or ic % icg or oc % (ic // icg):
            raise _fail(self.g, op, "has inconsistent channel counts")
        groups = ic // icg
        sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
        dh, dw = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
        ph, pw = self._conv_geometry(op, x, y, kh, kw, sh, sw, dh, dw)
        name = f"op{op.index}"
        w2d = w.data.reshape(oc, -1)
        ocg = oc // groups
        blocked = np.concatenate([block_weights(w2d[g * ocg:(g + 1) * ocg]) for g in range(groups)])
        consts = [ConstArray(f"{name}_w", "int8_t", blocked)]
        bias_idx = op.inputs[2] if len(op.inputs) > 2 else -1
        self.folded_bias(op, name, w2d, bias_idx, x, consts)
        rq = self.requant_init(name, op, x, w, y, oc, consts, self.acc_bound)
        init = (f"{{{ih}, {iw}, {ic}, {oh}, {ow}, {oc}, {kh}, {kw}, {sh}, {sw}, {dh}, {dw}, "
                f"{ph}, {pw}, {groups}, {_zp(x)}, {name}_w, {name}_b, {rq}}}")
        macs = oh * ow * oc * kh * kw * icg
        if kh == kw == 1 and sh == sw == 1 and ph == pw == 0 and groups == 1 and \
                (oh, ow) == (ih, iw):
            step = Step(op, "CONV_2D", [x.index], y.index, "ekrt_conv_t", init, consts,
                        "ekrt_conv2d_1x1(&{params}, {in0}, {out}, 0);", macs=macs)
            if oc <= ic:
                step.inplace_call = "ekrt_conv2d_1x1(&{params}, {in0}, {in0}, {scratch});"
                step.inplace_scratch = 2 * oc
            return step
        return Step(op, "CONV_2D", [x.index], y.index, "ekrt_conv_t", init, consts,
                    "ekrt_conv2d(&{params}, {in0}, {out}, {scratch});",
                    scratch=2 * ((kh * kw * icg + 3) // 4 * 4), macs=macs)

    def op_DEPTHWISE_CONV_2D(self, op: Operator) -> Step:
        x = self.act(op, op.inputs[0])
        w = self.const(op, op.inputs[1], "int8")
        y = self.out(op)
        o = op.options
        _, kh, kw, oc = w.shape
        _, ih, iw, ic = x.shape
        _, oh, ow, oc2 = y.shape
        if oc2 != oc or oc % ic:
            raise _fail(self.g, op, "has inconsistent channel counts")
        mult = oc // ic
        sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
        dh, dw = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
        ph, pw = self._conv_geometry(op, x, y, kh, kw, sh, sw, dh, dw)
        name = f"op{op.index}"
        wdata = w.data.reshape(kh * kw, oc)
        consts = [ConstArray(f"{name}_w", "int8_t", wdata.reshape(-1))]
        bias_idx = op.inputs[2] if len(op.inputs) > 2 else -1
        self.folded_bias(op, name, wdata.T, bias_idx, x, consts)
        rq = self.requant_init(name, op, x, w, y, oc, consts, self.acc_bound)
        init = (f"{{{ih}, {iw}, {ic}, {oh}, {ow}, {oc}, {kh}, {kw}, {sh}, {sw}, {dh}, {dw}, "
                f"{ph}, {pw}, {mult}, {_zp(x)}, {name}_w, {name}_b, {rq}}}")
        dw_scratch = 8 * kh * kw + (ic + 7) // 8 * 8
        step = Step(op, "DEPTHWISE_CONV_2D", [x.index], y.index, "ekrt_conv_t", init, consts,
                    "ekrt_dwconv(&{params}, {in0}, {out}, (int32_t *){scratch});",
                    scratch=dw_scratch, macs=oh * ow * oc * kh * kw)
        if sh == 1 and mult == 1 and (oh, ow) == (ih, iw):
            step.inplace_call = "ekrt_dwconv_inplace(&{params}, {in0}, (int32_t *){scratch});"
            step.inplace_scratch = dw_scratch + min(ph + 1, oh) * ow * oc
        return step

    def _pool(self, op: Operator, fn: str) -> Step:
        x = self.act(op, op.inputs[0])
        y = self.out(op)
        o = op.options
        kh, kw = o["filter_height"], o["filter_width"]
        sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
        ph, pw = self._conv_geometry(op, x, y, kh, kw, sh, sw, 1, 1)
        _, ih, iw, c = x.shape
        _, oh, ow, _ = y.shape
        lo, hi = Q.activation_range(o.get("fused_activation_function"), _scale(y), _zp(y))
        init = f"{{{ih}, {iw}, {c}, {oh}, {ow}, {kh}, {kw}, {sh}, {sw}, {ph}, {pw}, {lo}, {hi}}}"
        return Step(op, op.op, [x.index], y.index, "ekrt_pool_t", init, [],
                    f"{fn}(&{{params}}, {{in0}}, {{out}});")

    def op_AVERAGE_POOL_2D(self, op: Operator) -> Step:
        return self._pool(op, "ekrt_avgpool")

    def op_MAX_POOL_2D(self, op: Operator) -> Step:
        return self._pool(op, "ekrt_maxpool")

    def op_SOFTMAX(self, op: Operator) -> Step:
        x = self.act(op, op.inputs[0])
        y = self.out(op)
        depth = x.shape[-1] if x.shape else 1
        m, s, dmin = Q.softmax_params(op.options.get("beta", 1.0), _scale(x))
        init = f"{{{x.size // depth}, {depth}, {m}, {s}, {dmin}}}"
        return Step(op, "SOFTMAX", [x.index], y.index, "ekrt_softmax_t", init, [],
                    "ekrt_softmax(&{params}, {in0}, {out});")

    def _unary(self, op: Operator, fn: str, init_fields: tuple[int, ...]) -> Step:
        x = self.act(op, op.inputs[0])
        y = self.out(op)
        init = "{" + ", ".join(str(int(v)) for v in (x.size,) + init_fields) + "}"
        call = f"{fn}(&{{params}}, {{in0}}, {{out}});"
        return Step(op, op.op, [x.index], y.index, "ekrt_unary_t", init, [], call,
                    inplace_call=f"{fn}(&{{params}}, {{in0}}, {{in0}});")

    def op_LOGISTIC(self, op: Operator) -> Step:
        x = self.t(op.inputs[0])
        m, s, r = Q.sigmoid_tanh_params(_scale(x))
        return self._unary(op, "ekrt_logistic", (_zp(x), 0, m, s, r, -128, 127))

    def op_TANH(self, op: Operator) -> Step:
        x = self.t(op.inputs[0])
        m, s, r = Q.sigmoid_tanh_params(_scale(x))
        return self._unary(op, "ekrt_tanh", (_zp(x), 0, m, s, r, -128, 127))

    def op_QUANTIZE(self, op: Operator) -> Step:
        x, y = self.t(op.inputs[0]), self.out(op)
        self.act(op, op.inputs[0])
        m, s = Q.quantize_multiplier(float(_scale(x)) / float(_scale(y)))
        return self._unary(op, "ekrt_requantize", (_zp(x), _zp(y), m, s, 0, -128, 127))

    def op_RELU(self, op: Operator) -> Step:
        x, y = self.t(op.inputs[0]), self.out(op)
        self.act(op, op.inputs[0])
        m, s = Q.quantize_multiplier(float(_scale(x)) / float(_scale(y)))
        lo = max(-128, _zp(y) + int(Q.tflite_round(float(np.float32(0.0) / np.float32(_scale(y))))))
        return self._unary(op, "ekrt_relu_requant", (_zp(x), _zp(y), m, s, 0, lo, 127))

    def op_RELU6(self, op: Operator) -> Step:
        # TFLM's int8 RELU6 clamps the raw input to [zp_in, zp_in + round(6 / scale_in)]
        # and ignores the output quantization: do the same, bit for bit.
        x = self.act(op, op.inputs[0])
        self.out(op)
        six = _zp(x) + int(Q.tflite_round(float(np.float32(6.0) / np.float32(_scale(x)))))
        return self._unary(op, "ekrt_clamp", (_zp(x), 0, 0, 0, 0, max(-128, _zp(x)),
                                              min(127, six)))

    def _binary(self, op: Operator, kind: str) -> Step:
        y = self.out(op)
        name = f"op{op.index}"
        consts: list[ConstArray] = []
        operands, act_inputs = [], []
        for k, idx in enumerate(op.inputs[:2]):
            t = self.t(idx)
            if t.is_constant:
                if t.dtype != "int8":
                    raise _fail(self.g, op, f"has a {t.dtype} constant '{t.name}'")
                consts.append(ConstArray(f"{name}_c{k}", "int8_t", t.data.reshape(-1)))
                operands.append(f"{name}_c{k}")
            else:
                self.act(op, idx)
                operands.append("{in%d}" % len(act_inputs))
                act_inputs.append(idx)
        a, b = self.t(op.inputs[0]), self.t(op.inputs[1])
        shape = tuple(y.shape)
        rank = len(shape)
        if rank > 5:
            raise _fail(self.g, op, "has rank > 5")
        dims = [1] * (5 - rank) + list(shape)

        def strides(t: Tensor) -> list[int]:
            s = [1] * (5 - len(t.shape)) + list(t.shape)
            out, acc = [0] * 5, 1
            for i in range(4, -1, -1):
                out[i] = 0 if s[i] == 1 and dims[i] != 1 else acc
                acc *= s[i]
            return out

        broadcast = not (a.size == b.size == y.size)
        lo, hi = Q.activation_range(op.options.get("fused_activation_function"), _scale(y), _zp(y))
        if kind in ("ADD", "SUB"):
            p = Q.add_params(_scale(a), _scale(b), _scale(y))
        else:
            mo, sho = Q.quantize_multiplier(float(_scale(a)) * float(_scale(b)) / float(_scale(y)))
            p = dict(m1=0, sh1=0, m2=0, sh2=0, mo=mo, sho=sho, left_shift=0)
        init = (f"{{{{{_arr(dims)}}}, {{{_arr(strides(a))}}}, {{{_arr(strides(b))}}}, {y.size}, "
                f"{1 if broadcast else 0}, {-_zp(a)}, {-_zp(b)}, {_zp(y)}, {p['m1']}, {p['m2']}, "
                f"{p['mo']}, {p['sh1']}, {p['sh2']}, {p['sho']}, {p['left_shift']}, {lo}, {hi}}}")
        fn = {"ADD": "ekrt_add", "SUB": "ekrt_sub", "MUL": "ekrt_mul"}[kind]
        o1, o2 = operands
        step = Step(op, kind, act_inputs, y.index, "ekrt_binary_t", init, consts,
                    f"{fn}(&{{params}}, {o1}, {o2}, {{out}});")
        # Elementwise: output element i depends only on element i of a full-size input (its
        # broadcast index advances with the output's), so such an input may be overwritten.
        full = tuple(k for k, t in enumerate(act_inputs) if self.t(t).size == y.size)
        if full and len(set(act_inputs)) == len(act_inputs):
            step.inplace_call = f"{fn}(&{{params}}, {o1}, {o2}, {{inp}});"
            step.inplace_inputs = full
        return step

    def op_ADD(self, op: Operator) -> Step:
        return self._binary(op, "ADD")

    def op_SUB(self, op: Operator) -> Step:
        return self._binary(op, "SUB")

    def op_LEAKY_RELU(self, op: Operator) -> Step:
        x = self.act(op, op.inputs[0])
        y = self.out(op)
        alpha = float(np.float32(op.options.get("alpha", 0.2)))
        mi, si = Q.quantize_multiplier(float(_scale(x)) / float(_scale(y)))
        ma, sa = Q.quantize_multiplier(float(_scale(x)) * alpha / float(_scale(y)))
        return self._unary(op, "ekrt_leaky_relu", (_zp(x), _zp(y), mi, si, ma, sa, 0))

    def op_HARD_SWISH(self, op: Operator) -> Step:
        # A pure function of one int8: a 256-entry table computed here exactly as TFLM's
        # int16 fixed-point kernel would, then one lookup per element at run time.
        x = self.act(op, op.inputs[0])
        y = self.out(op)
        try:
            table = Q.hard_swish_table(_scale(x), _zp(x), _scale(y), _zp(y))
        except ValueError as exc:
            raise _fail(self.g, op, str(exc)) from None
        name = f"op{op.index}"
        consts = [ConstArray(f"{name}_lut", "int8_t", np.array(table, dtype=np.int64))]
        return Step(op, "HARD_SWISH", [x.index], y.index, "", "", consts,
                    f"ekrt_lut({name}_lut, {{in0}}, {{out}}, {x.size});",
                    inplace_call=f"ekrt_lut({name}_lut, {{in0}}, {{in0}}, {x.size});")

    def op_MUL(self, op: Operator) -> Step:
        return self._binary(op, "MUL")

    def op_CONCATENATION(self, op: Operator) -> Step:
        y = self.out(op)
        xs = [self.act(op, i) for i in op.inputs]
        axis = op.options.get("axis", -1)
        rank = len(y.shape)
        axis = axis + rank if axis < 0 else axis
        outer = int(np.prod(y.shape[:axis])) if axis else 1
        name = f"op{op.index}"
        per = [x.size // outer for x in xs]
        consts = [ConstArray(f"{name}_n", "int32_t", np.array(per, dtype=np.int64))]
        init = f"{{{outer}, {y.size // outer}, {len(xs)}, {name}_n}}"
        ins = ", ".join("{in%d}" % k for k in range(len(xs)))
        call = ("{{ const int8_t *const ins[] = {{%s}}; ekrt_concat(&{params}, ins, {out}); }}"
                % ins)
        return Step(op, "CONCATENATION", [x.index for x in xs], y.index, "ekrt_concat_t", init,
                    consts, call)

    def op_PAD(self, op: Operator) -> Step:
        x = self.act(op, op.inputs[0])
        y = self.out(op)
        pads = self.const(op, op.inputs[1], "int32").data.reshape(-1, 2)
        rank = len(x.shape)
        if rank > 4:
            raise _fail(self.g, op, "has rank > 4")
        value = _zp(y)
        if op.op == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
            value = int(self.const(op, op.inputs[2], "int8").data.reshape(-1)[0])
        ind = [1] * (4 - rank) + list(x.shape)
        outd = [1] * (4 - rank) + list(y.shape)
        before = [0] * (4 - rank) + [int(p) for p in pads[:, 0]]
        init = f"{{{{{_arr(ind)}}}, {{{_arr(outd)}}}, {{{_arr(before)}}}, {value}}}"
        return Step(op, op.op, [x.index], y.index, "ekrt_pad_t", init, [],
                    "ekrt_pad(&{params}, {in0}, {out});")

    op_PADV2 = op_PAD


def _op_mean(self: Lowerer, op: Operator) -> Step:
    x = self.act(op, op.inputs[0])
    y = self.out(op)
    axes = sorted({int(a) % len(x.shape) for a in
                   self.const(op, op.inputs[1], "int32").data.reshape(-1)})
    if axes != list(range(axes[0], axes[-1] + 1)):
        raise _fail(self.g, op, f"reduces non-contiguous axes {axes}")
    outer = int(np.prod(x.shape[:axes[0]]))
    reduce = int(np.prod([x.shape[a] for a in axes]))
    inner = int(np.prod(x.shape[axes[-1] + 1:]))
    m, s = Q.mean_params(_scale(x), _scale(y), reduce)
    init = f"{{{outer}, {reduce}, {inner}, {_zp(x)}, {_zp(y)}, {m}, {s}}}"
    return Step(op, "MEAN", [x.index], y.index, "ekrt_mean_t", init, [],
                "ekrt_mean(&{params}, {in0}, {out}, (int32_t *){scratch});", scratch=4 * inner)


Lowerer.op_MEAN = _op_mean  # type: ignore[attr-defined]


def lower_graph(graph: Graph) -> list[Step]:
    return Lowerer(graph).lower()
