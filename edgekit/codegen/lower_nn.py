"""edgekit-rt lowerings of the weighted and windowed operators: fully connected, convolutions,
pooling, mean and softmax."""

from __future__ import annotations

import dataclasses

import numpy as np

from edgekit.codegen import quant as Q
from edgekit.codegen.lower_base import ConstArray, Lowerer, Step, block_weights, lowers, values
from edgekit.model.tflite_graph import Operator, Tensor


def xw_bytes(depth: int) -> int:
    """EKRT_XW_BYTES (ekrt_kernels.h): the two-vector kernels' widened inputs, in scratch."""
    return 4 * (depth & ~3)


def rqt_bytes(channels: int) -> int:
    """EKRT_RQT_BYTES (ekrt_nn.h): the fused requantization's table, in scratch."""
    return 12 * channels


# Below this many weights a one-row FULLY_CONNECTED keeps the plain kernel: ekrt_fc.c's 1.6 KB of
# code and its scratch (2 bytes an input) are not worth the few instructions saved.
FC_WIDEN_MIN_MACS = 4096


def widened_weights(w2d: np.ndarray) -> np.ndarray:
    """[n_out][depth] int8 weights as ekrt_fully_connected_h's int16 pairs (ekrt_fc.c), one int32
    word each: per block of 4 rows, per 4 inputs each row's (w0, w2), (w1, w3); then the block's
    depth % 4 last columns row after row; the n_out % 4 last rows plainly; zero-padded to a word."""
    n_out, depth = w2d.shape
    k4, n4 = depth - depth % 4, n_out - n_out % 4
    parts = []
    for c in range(0, n4, 4):
        blk = w2d[c:c + 4].astype(np.int64)
        steps = blk[:, :k4].reshape(4, k4 // 4, 4)[:, :, [0, 2, 1, 3]]
        parts.append(steps.transpose(1, 0, 2).reshape(-1))
        parts.append(blk[:, k4:].reshape(-1))
    parts.append(w2d[n4:].reshape(-1).astype(np.int64))
    h = np.concatenate(parts)
    h = np.pad(h, (0, len(h) % 2)) & 0xFFFF
    words = h[0::2] | (h[1::2] << 16)
    return np.where(words >= 1 << 31, words - (1 << 32), words)


@lowers("FULLY_CONNECTED")
def fully_connected(lw: Lowerer, op: Operator) -> Step:
    """FULLY_CONNECTED: ekrt_fully_connected(_x2) on blocked weights, input zp folded into the bias, requantized."""
    x = lw.act(op, op.inputs[0])
    w = lw.const(op, op.inputs[1], "int8")
    y = lw.out(op)
    if len(w.shape) != 2:
        raise lw.fail(op, f"has weights of rank {len(w.shape)}")
    out_dim, in_dim = w.shape
    if x.size % in_dim or y.size != x.size // in_dim * out_dim:
        raise lw.fail(op, "has inconsistent shapes")
    batches = x.size // in_dim
    name = f"op{op.index}"
    consts = [ConstArray(f"{name}_w", "int8_t", block_weights(values(w).reshape(out_dim, in_dim)))]
    bias_idx = op.inputs[2] if len(op.inputs) > 2 else -1
    acc_bound = lw.folded_bias(op, name, values(w).reshape(out_dim, in_dim), bias_idx, x, consts)
    rq = lw.requant_init(name, op, x, w, y, out_dim, consts, acc_bound)
    init = f"{{{batches}, {in_dim}, {out_dim}, {name}_w, {name}_b, {rq}}}"
    if lw.speed and in_dim * out_dim >= FC_WIDEN_MIN_MACS:   # generate --optimize speed: int16 weights
        consts[0] = ConstArray(f"{name}_w", "int32_t", widened_weights(values(w).reshape(out_dim, in_dim)))
        return Step(op, [x.index], y.index, "ekrt_fch_t", init, consts,
                    "ekrt_fully_connected_h(&{params}, {in0}, {out}, {scratch});", scratch=xw_bytes(in_dim) // 2,
                    macs=batches * in_dim * out_dim)
    # The two-row kernel when there are row pairs, or when convolutions link it anyway.
    fn = "ekrt_fully_connected_x2" if batches > 1 or "CONV_2D" in lw.graph.op_names() \
        else "ekrt_fully_connected"
    if fn == "ekrt_fully_connected" and in_dim * out_dim < FC_WIDEN_MIN_MACS:
        return Step(op, [x.index], y.index, "ekrt_fc_t", init, consts,
                    fn + "(&{params}, {in0}, {out});", macs=batches * in_dim * out_dim)
    if fn == "ekrt_fully_connected":   # the input widened once in scratch on DSP cores (ekrt_fc.c)
        return Step(op, [x.index], y.index, "ekrt_fc_t", init, consts,
                    "ekrt_fully_connected_w(&{params}, {in0}, {out}, {scratch});", scratch=xw_bytes(in_dim) // 2,
                    macs=batches * in_dim * out_dim)
    return Step(op, [x.index], y.index, "ekrt_fc_t", init, consts, fn + "(&{params}, {in0}, {out}, {scratch});",
                scratch=xw_bytes(in_dim) + rqt_bytes(out_dim), macs=batches * in_dim * out_dim)


@lowers("CONV_2D")
def conv_2d(lw: Lowerer, op: Operator) -> Step:
    """CONV_2D (grouped too): ekrt_conv2d, or ekrt_conv2d_1x1 for pointwise; input zp folded into the bias."""
    x = lw.act(op, op.inputs[0])
    w = lw.const(op, op.inputs[1], "int8")
    y = lw.out(op)
    o = op.options
    oc, kh, kw, icg = w.shape
    _, ih, iw, ic = x.shape
    _, oh, ow, oc2 = y.shape
    if oc2 != oc or ic % icg or oc % (ic // icg):
        raise lw.fail(op, "has inconsistent channel counts")
    groups = ic // icg
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    dh, dw = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    ph, pw = lw.window_padding(op, x, y, kh, kw, sh, sw, dh, dw)
    name = f"op{op.index}"
    w2d = values(w).reshape(oc, -1)
    pointwise = kh == kw == 1 and sh == sw == 1 and ph == pw == 0 and groups == 1 and (oh, ow) == (ih, iw)
    dead = np.flatnonzero(~w2d.any(axis=1))
    if pointwise and len(dead) < oc and len(dead) * ic >= 4 * oc:   # MACs skipped outweigh the scatter
        return _pruned_1x1(lw, op, x, w, y, w2d, dead)
    ocg = oc // groups
    # The im2col kernel's rows are zero-padded to a multiple of 4 bytes (no scalar tail loop).
    wk = w2d if pointwise else np.pad(w2d, ((0, 0), (0, -w2d.shape[1] % 4)))
    blocked = np.concatenate([block_weights(wk[g * ocg:(g + 1) * ocg]) for g in range(groups)])
    consts = [ConstArray(f"{name}_w", "int8_t", blocked)]
    bias_idx = op.inputs[2] if len(op.inputs) > 2 else -1
    acc_bound = lw.folded_bias(op, name, w2d, bias_idx, x, consts)
    rq = lw.requant_init(name, op, x, w, y, oc, consts, acc_bound)
    init = (f"{{{ih}, {iw}, {ic}, {oh}, {ow}, {oc}, {kh}, {kw}, {sh}, {sw}, {dh}, {dw}, "
            f"{ph}, {pw}, {groups}, {x.zero_point}, {name}_w, {name}_b, {rq}}}")
    macs = oh * ow * oc * kh * kw * icg
    if pointwise:
        step = Step(op, [x.index], y.index, "ekrt_conv_t", init, consts,
                    "ekrt_conv2d_1x1(&{params}, {in0}, {out}, {scratch}, 0);", scratch=xw_bytes(ic) + rqt_bytes(oc),
                    macs=macs)
        if oc <= ic:
            step.inplace_call = "ekrt_conv2d_1x1(&{params}, {in0}, {in0}, {scratch}, 1);"
            step.inplace_scratch = xw_bytes(ic) + rqt_bytes(oc) + 2 * oc
        return step
    depth4 = (kh * kw * icg + 3) // 4 * 4
    scratch = 2 * depth4 + xw_bytes(depth4) + rqt_bytes(oc)   # EKRT_CONV_SCRATCH
    step = Step(op, [x.index], y.index, "ekrt_conv_t", init, consts,
                "ekrt_conv2d(&{params}, {in0}, {out}, {scratch});", scratch=scratch, macs=macs)
    if sh == 1 and (oh, ow) == (ih, iw) and oc <= ic:
        # Row-buffered in place (a residual block's second conv): its input dies here.
        step.inplace_call = "ekrt_conv2d_inplace(&{params}, {in0}, {scratch});"
        step.inplace_scratch = scratch + min(ph + 1, oh) * ow * oc
    return step


def _pruned_1x1(lw: Lowerer, op: Operator, x: Tensor, w: Tensor, y: Tensor, w2d: np.ndarray,
                dead: np.ndarray) -> Step:
    """A 1x1 CONV_2D with all-zero output channels (pruned): ekrt_conv2d_1x1_pruned computes the
    live channels only; a dead channel's output is its folded bias requantized, a constant the
    kernel computes once a call with the channel's own multiplier (exact under either rounding)."""
    name = f"op{op.index}"
    oc, ic = w2d.shape
    _, h, wd, _ = y.shape
    live = np.setdiff1d(np.arange(oc), dead)
    consts = [ConstArray(f"{name}_w", "int8_t", block_weights(w2d[live]))]
    bias_idx = op.inputs[2] if len(op.inputs) > 2 else -1
    lw.folded_bias(op, name, w2d, bias_idx, x, consts)
    folded = consts.pop().values
    consts.append(ConstArray(f"{name}_b", "int32_t", folded[live]))
    # |acc| of the live channels only: a dead channel's (often huge) bias is never summed.
    bound = int(np.max(np.abs(folded[live]) + 128 * np.abs(w2d[live].astype(np.int64)).sum(axis=1),
                       initial=0))
    q = w.quant
    assert q is not None   # requant_init would have refused it
    per_channel = q.scale.size > 1
    live_w = dataclasses.replace(w, quant=dataclasses.replace(q, scale=q.scale[live], zero_point=q.zero_point[live])) \
        if per_channel else w
    rq = lw.requant_init(name, op, x, live_w, y, len(live), consts, bound)
    mults, shifts = Q.conv_multipliers(x.scale, q.scale, y.scale)
    pick = dead if per_channel else np.zeros(len(dead), dtype=np.int64)
    consts += [ConstArray(f"{name}_live", "int32_t", live), ConstArray(f"{name}_dead", "int32_t", dead),
               ConstArray(f"{name}_dacc", "int32_t", folded[dead]),
               ConstArray(f"{name}_dm", "int32_t", np.array(mults, dtype=np.int64)[pick]),
               ConstArray(f"{name}_ds", "int8_t", np.array(shifts, dtype=np.int64)[pick])]
    init = (f"{{{{{h}, {wd}, {ic}, {h}, {wd}, {oc}, 1, 1, 1, 1, 1, 1, 0, 0, 1, {x.zero_point}, {name}_w, "
            f"{name}_b, {rq}}}, {len(live)}, {len(dead)}, {name}_live, {name}_dead, {name}_dacc, {name}_dm, "
            f"{name}_ds}}")
    scratch = xw_bytes(ic) + (oc + 3) // 4 * 4 + 2 * ((len(live) + 3) // 4 * 4) + rqt_bytes(len(live))
    step = Step(op, [x.index], y.index, "ekrt_conv_pruned_t", init, consts,
                "ekrt_conv2d_1x1_pruned(&{params}, {in0}, {out}, {scratch});", scratch=scratch,
                macs=h * wd * oc * ic)
    if oc <= ic:
        step.inplace_call = "ekrt_conv2d_1x1_pruned(&{params}, {in0}, {in0}, {scratch});"
        step.inplace_scratch = scratch
    return step


@lowers("DEPTHWISE_CONV_2D")
def depthwise_conv_2d(lw: Lowerer, op: Operator) -> Step:
    """DEPTHWISE_CONV_2D: ekrt_dwconv_p (depth multiplier 1, out_c % 4 == 0: its taps paired in
    scratch), else ekrt_dwconv (their _inplace forms at stride 1); input zp folded into the bias."""
    x = lw.act(op, op.inputs[0])
    w = lw.const(op, op.inputs[1], "int8")
    y = lw.out(op)
    o = op.options
    _, kh, kw, oc = w.shape
    _, ih, iw, ic = x.shape
    _, oh, ow, oc2 = y.shape
    if oc2 != oc or oc % ic:
        raise lw.fail(op, "has inconsistent channel counts")
    mult = oc // ic
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    dh, dw = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    ph, pw = lw.window_padding(op, x, y, kh, kw, sh, sw, dh, dw)
    name = f"op{op.index}"
    wdata = values(w).reshape(kh * kw, oc)
    paired = mult == 1 and oc % 4 == 0
    fn = "ekrt_dwconv_p" if paired else "ekrt_dwconv"
    consts = [ConstArray(f"{name}_w", "int8_t", wdata.reshape(-1))]
    bias_idx = op.inputs[2] if len(op.inputs) > 2 else -1
    acc_bound = lw.folded_bias(op, name, wdata.T, bias_idx, x, consts)
    rq = lw.requant_init(name, op, x, w, y, oc, consts, acc_bound)
    init = (f"{{{ih}, {iw}, {ic}, {oh}, {ow}, {oc}, {kh}, {kw}, {sh}, {sw}, {dh}, {dw}, "
            f"{ph}, {pw}, {mult}, {x.zero_point}, {name}_w, {name}_b, {rq}}}")
    # EKRT_DW_SCRATCH: ekrt_dwconv_p pairs the weights in scratch
    dw_scratch = 8 * (kh * kw + 1) + (ic + 7) // 8 * 8 + rqt_bytes(ic) + 4 * ((kh * kw + 1) // 2) * ic
    # ekrt_dwconv_p's 3x3 stride-1 path on DSP cores (EKRT_DW3_USED): EKRT_DW3_SCRATCH
    n, lines = max(oh, ow), min(oh, ow)
    dw3 = rqt_bytes(oc) + 4 * (n + 2) + 2 * (lines + 2) * ((n + 4) & ~1) \
        if paired and kh == kw == 3 and sh == sw == dh == dw == 1 and n >= 4 else 0
    step = Step(op, [x.index], y.index, "ekrt_conv_t", init, consts,
                fn + "(&{params}, {in0}, {out}, (int32_t *){scratch});",
                scratch=max(dw_scratch, dw3), macs=oh * ow * oc * kh * kw)
    if sh == 1 and mult == 1 and (oh, ow) == (ih, iw):
        step.inplace_call = fn + "_inplace(&{params}, {in0}, (int32_t *){scratch});"
        step.inplace_scratch = max(dw_scratch + min(ph + 1, oh) * ow * oc, dw3)
    return step


@lowers("AVERAGE_POOL_2D", "MAX_POOL_2D")
def pool_2d(lw: Lowerer, op: Operator) -> Step:
    """AVERAGE_POOL_2D/MAX_POOL_2D: ekrt_avgpool/ekrt_maxpool, clamped to the fused activation's range."""
    fn = {"AVERAGE_POOL_2D": "ekrt_avgpool", "MAX_POOL_2D": "ekrt_maxpool"}[op.op]
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    o = op.options
    kh, kw = o["filter_height"], o["filter_width"]
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    ph, pw = lw.window_padding(op, x, y, kh, kw, sh, sw, 1, 1)
    _, ih, iw, c = x.shape
    _, oh, ow, _ = y.shape
    lo, hi = Q.activation_range(o.get("fused_activation_function"), y.scale, y.zero_point)
    init = f"{{{ih}, {iw}, {c}, {oh}, {ow}, {kh}, {kw}, {sh}, {sw}, {ph}, {pw}, {lo}, {hi}}}"
    return Step(op, [x.index], y.index, "ekrt_pool_t", init, [],
                f"{fn}(&{{params}}, {{in0}}, {{out}});")


@lowers("MEAN", "SUM")
def mean(lw: Lowerer, op: Operator) -> Step:
    """MEAN over contiguous axes: ekrt_mean, scale_in / scale_out and 1 / count folded into one
    multiplier; SUM (ops.sum) is the same kernel without the 1 / count, as TFLM."""
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    axes = sorted({int(a) % len(x.shape) for a in
                   values(lw.const(op, op.inputs[1], "int32")).reshape(-1)})
    if axes != list(range(axes[0], axes[-1] + 1)):
        raise lw.fail(op, f"reduces non-contiguous axes {axes}")
    outer = int(np.prod(x.shape[:axes[0]]))
    reduce = int(np.prod([x.shape[a] for a in axes]))
    inner = int(np.prod(x.shape[axes[-1] + 1:]))
    if op.op == "SUM":
        m, s = Q.quantize_multiplier(float(x.scale) / float(y.scale))
    else:
        m, s = Q.mean_params(x.scale, y.scale, reduce)
    init = f"{{{outer}, {reduce}, {inner}, {x.zero_point}, {y.zero_point}, {m}, {s}}}"
    return Step(op, [x.index], y.index, "ekrt_mean_t", init, [],
                "ekrt_mean(&{params}, {in0}, {out}, (int32_t *){scratch});", scratch=4 * inner)


# Below this many elements a softmax computes its exps (~250 instructions each on Cortex-M4)
# rather than spend 1 KB of flash on the table.
SOFTMAX_TABLE_MIN_ELEMENTS = 16


@lowers("SOFTMAX")
def softmax(lw: Lowerer, op: Operator) -> Step:
    """SOFTMAX over the last axis: ekrt_softmax with TFLM's beta * scale_in multiplier, left shift and
    diff_min, or ekrt_softmax_table with the exps precomputed."""
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    depth = x.shape[-1] if x.shape else 1
    m, s, dmin = Q.softmax_params(op.options.get("beta", 1.0), x.scale)
    init = f"{{{x.size // depth}, {depth}, {m}, {s}, {dmin}}}"
    if x.size < SOFTMAX_TABLE_MIN_ELEMENTS:
        return Step(op, [x.index], y.index, "ekrt_softmax_t", init, [],
                    "ekrt_softmax(&{params}, {in0}, {out});")
    # The exp of each element depends only on its distance to the row's maximum (0..255): a
    # 2 KB table of TFLM's own fixed-point values (and their terms of the sum) replaces two exp
    # evaluations per element.
    name = f"op{op.index}_exp"
    exps = Q.softmax_exp_table(m, s, dmin)
    terms = [Q._rdbpot(e, 12) for e in exps]   # each exp's Q12.19 term of the row's sum
    # by 255 - distance: an element x reads entry 255 - max + x
    consts = [ConstArray(name, "int32_t", np.array(exps[::-1] + terms[::-1], dtype=np.int64))]
    return Step(op, [x.index], y.index, "ekrt_softmax_t", init, consts,
                f"ekrt_softmax_table(&{{params}}, {name}, {{in0}}, {{out}});")
