"""edgekit-rt lowerings of the resampling ops Keras 3's common layers produce:
RESIZE_NEAREST_NEIGHBOR (Resizing(interpolation="nearest")), RESIZE_BILINEAR (Resizing,
UpSampling2D(interpolation="bilinear")) and TRANSPOSE_CONV (Conv2DTranspose, Conv1DTranspose)."""

from __future__ import annotations

import numpy as np

from edgekit.codegen import quant as Q
from edgekit.codegen.lower_base import ConstArray, Lowerer, Step, lowers, values
from edgekit.model.tflite_graph import Operator, Tensor


def _nhwc(lw: Lowerer, op: Operator, t: Tensor) -> list[int]:
    """A rank <= 4 tensor's shape as TFLM's ExtendedShape(4): ones prepended."""
    if len(t.shape) > 4:
        raise lw.fail(op, f"has a rank-{len(t.shape)} tensor '{t.name}' (at most 4)")
    return [1] * (4 - len(t.shape)) + list(t.shape)


def _size(lw: Lowerer, op: Operator, x: Tensor, y: Tensor) -> tuple[list[int], list[int]]:
    """The input and output NHWC shapes of a resize, checked against its constant size."""
    xs, ys = _nhwc(lw, op, x), _nhwc(lw, op, y)
    size = [int(v) for v in values(lw.const(op, op.inputs[1], "int32")).reshape(-1)]
    if size != ys[1:3] or xs[0] != ys[0] or xs[3] != ys[3]:
        raise lw.fail(op, f"resizes {tuple(xs)} to size {size} but outputs {tuple(ys)}")
    return xs, ys


def nearest_indices(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> list[int]:
    """TFLM's GetNearestNeighbor for each output index, in float as TFLM computes it."""
    f32 = np.float32
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5) if half_pixel else f32(0.0)
    out = []
    for o in range(out_size):
        v = float(f32(f32(o) + offset) * scale)
        i = min(int(Q.tflite_round(v)) if align_corners else int(np.floor(v)), in_size - 1)
        out.append(max(i, 0) if half_pixel else i)
    return out


@lowers("RESIZE_NEAREST_NEIGHBOR")
def resize_nearest(lw: Lowerer, op: Operator) -> Step:
    """RESIZE_NEAREST_NEIGHBOR: ekrt_resize_nearest copying the input pixel each output pixel
    maps to (row and column tables computed here as TFLM does, align_corners and
    half_pixel_centers included); a byte copy, no rescaling, as TFLM."""
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    xs, ys = _size(lw, op, x, y)
    o = op.options
    ac, hp = bool(o.get("align_corners", False)), bool(o.get("half_pixel_centers", False))
    name = f"op{op.index}"
    consts = [ConstArray(f"{name}_r", "int32_t", np.array(nearest_indices(xs[1], ys[1], ac, hp), dtype=np.int64)),
              ConstArray(f"{name}_c", "int32_t", np.array(nearest_indices(xs[2], ys[2], ac, hp), dtype=np.int64))]
    init = f"{{{xs[0]}, {xs[1]}, {xs[2]}, {ys[1]}, {ys[2]}, {xs[3]}, {name}_r, {name}_c}}"
    return Step(op, [x.index], y.index, "ekrt_resize_nn_t", init, consts,
                "ekrt_resize_nearest(&{params}, {in0}, {out});")


def _scale_q10(in_size: int, out_size: int, align_corners: bool) -> int:
    """TFLM's ResizeBilinearInteger scale, rounded to Q10."""
    if align_corners and out_size > 1:
        return ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    return ((1 << 10) * in_size + out_size // 2) // out_size


@lowers("RESIZE_BILINEAR")
def resize_bilinear(lw: Lowerer, op: Operator) -> Step:
    """RESIZE_BILINEAR: ekrt_resize_bilinear, TFLM's integer kernel (Q10 coordinates, no
    rescaling)."""
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    xs, ys = _size(lw, op, x, y)
    o = op.options
    ac, hp = bool(o.get("align_corners", False)), bool(o.get("half_pixel_centers", False))
    if ac and hp:
        raise lw.fail(op, "sets both align_corners and half_pixel_centers (TFLM refuses it too)")
    init = (f"{{{xs[0]}, {xs[1]}, {xs[2]}, {ys[1]}, {ys[2]}, {xs[3]}, "
            f"{_scale_q10(xs[1], ys[1], ac)}, {_scale_q10(xs[2], ys[2], ac)}, {int(hp)}}}")
    return Step(op, [x.index], y.index, "ekrt_resize_bl_t", init, [],
                "ekrt_resize_bilinear(&{params}, {in0}, {out});")


def _transpose_conv_padding(out_size: int, k: int, stride: int, padding: str) -> int:
    """TFLM's Prepare: ComputePaddingHeightWidth over the transpose conv's output size."""
    n = (out_size + stride - 1) // stride if padding == "SAME" else (out_size - k + stride) // stride
    return max((n - 1) * stride + k - out_size, 0) // 2


def transpose_conv_geometry(lw: Lowerer, op: Operator, x: Tensor, w: Tensor,
                            y: Tensor) -> tuple[int, ...]:
    """A TRANSPOSE_CONV's (out_c, k_h, k_w, in_c, in_h, in_w, out_h, out_w, stride_h, stride_w,
    pad_h, pad_w), its channel counts and padding checked (the int8 and int16 lowerings)."""
    oc, kh, kw, ic = w.shape
    _, ih, iw, ic2 = x.shape
    _, oh, ow, oc2 = y.shape
    if ic2 != ic or oc2 != oc:
        raise lw.fail(op, "has inconsistent channel counts")
    o = op.options
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    padding = o.get("padding", "SAME")
    if padding not in ("SAME", "VALID"):
        raise lw.fail(op, f"has padding {padding}")
    ph, pw = _transpose_conv_padding(oh, kh, sh, padding), _transpose_conv_padding(ow, kw, sw, padding)
    return oc, kh, kw, ic, ih, iw, oh, ow, sh, sw, ph, pw


@lowers("TRANSPOSE_CONV")
def transpose_conv(lw: Lowerer, op: Operator) -> Step:
    """TRANSPOSE_CONV (Conv2DTranspose; Conv1DTranspose between RESHAPEs): ekrt_transpose_conv,
    per-channel or per-tensor requantization as CONV_2D, the raw bias added to each sum."""
    if len(op.inputs) < 3:
        raise lw.fail(op, f"has {len(op.inputs)} inputs (output shape, weights, input expected)")
    x = lw.act(op, op.inputs[2])
    w = lw.const(op, op.inputs[1], "int8")
    y = lw.out(op)
    if len(x.shape) != 4 or len(y.shape) != 4 or len(w.shape) != 4 or x.shape[0] != 1:
        raise lw.fail(op, "needs 4-D NHWC tensors with batch 1")
    shape = [int(v) for v in values(lw.const(op, op.inputs[0], "int32")).reshape(-1)]
    if shape != list(y.shape):
        raise lw.fail(op, f"has output shape {shape} but outputs {tuple(y.shape)}")
    oc, kh, kw, ic, ih, iw, oh, ow, sh, sw, ph, pw = transpose_conv_geometry(lw, op, x, w, y)
    name = f"op{op.index}"
    wdata = values(w).reshape(oc, -1).astype(np.int64)
    bias = np.zeros(oc, dtype=np.int64)
    if len(op.inputs) > 3 and op.inputs[3] >= 0:
        bias = values(lw.const(op, op.inputs[3], "int32")).reshape(-1).astype(np.int64)
        if bias.size != oc:
            raise lw.fail(op, f"has {bias.size} biases for {oc} output channels")
    consts = [ConstArray(f"{name}_w", "int8_t", wdata.reshape(-1)),
              ConstArray(f"{name}_b", "int32_t", bias)]
    # |sum| <= |bias| + 256 * sum|w| over every tap: the int32 sums cannot overflow below 2^31.
    acc_bound = int(np.max(np.abs(bias) + 256 * np.abs(wdata).sum(axis=1)))
    if acc_bound >= 1 << 31:
        raise lw.fail(op, "has weights whose sums may overflow int32")
    rq = lw.requant_init(name, op, x, w, y, oc, consts, acc_bound)
    init = (f"{{{ih}, {iw}, {ic}, {oh}, {ow}, {oc}, {kh}, {kw}, {sh}, {sw}, 1, 1, "
            f"{ph}, {pw}, 1, {x.zero_point}, {name}_w, {name}_b, {rq}}}")
    return Step(op, [x.index], y.index, "ekrt_conv_t", init, consts,
                "ekrt_transpose_conv(&{params}, {in0}, {out}, (int32_t *){scratch});",
                scratch=4 * oc, macs=ih * iw * kh * kw * ic * oc)
