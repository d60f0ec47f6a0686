"""edgekit-rt lowerings of the ops Keras 3's common layers produce that select or move values
without arithmetic: ARG_MAX/ARG_MIN (argmax), REDUCE_MAX/REDUCE_MIN (GlobalMaxPooling),
SPLIT/SPLIT_V (ops.split), TRANSPOSE (Permute) and TILE (UpSampling1D/2D nearest,
RepeatVector). TRANSPOSE and TILE are strided copies (ekrt_strided_slice). Like TFLM's (and
TFLite's TILE), the copies move bytes whatever the tensors' quantization."""

from __future__ import annotations

import numpy as np

from edgekit.codegen.lower_base import ConstArray, Lowerer, Step, c_list, lowers, values
from edgekit.model.tflite_graph import Operator, Tensor

# ekrt_slice_t's dimensions: a strided copy of more (after merging) is refused.
_SLICE_DIMS = 5


def _ints(lw: Lowerer, op: Operator, i: int) -> list[int]:
    """A constant int32 or int64 operand (axes, multiples, permutations, sizes) as ints."""
    t = lw.tensor(i)
    if t.dtype not in ("int32", "int64"):
        raise lw.fail(op, f"has a {t.dtype} operand '{t.name}' where int32 is needed")
    return [int(v) for v in values(lw.const(op, i, t.dtype)).reshape(-1)]


def _axis(lw: Lowerer, op: Operator, axis: int, rank: int) -> int:
    """A possibly negative axis made positive; ModelError outside the rank."""
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise lw.fail(op, f"has axis {axis} outside its input's rank {rank}")
    return a


def strided_copy(lw: Lowerer, op: Operator, x: Tensor, y: Tensor,
                 axes: list[tuple[int, int]]) -> Step:
    """Output = the input read along `axes` ((count, input stride in elements) per output axis,
    outermost first; stride 0 repeats): ekrt_strided_slice after dropping axes of 1 and
    merging axes that read contiguously."""
    merged: list[tuple[int, int]] = []
    for count, stride in axes:
        if count == 1:
            continue
        if merged and merged[-1][1] == count * stride:
            merged[-1] = (merged[-1][0] * count, stride)
        else:
            merged.append((count, stride))
    if int(np.prod([c for c, _ in merged])) != y.size:
        raise lw.fail(op, f"reads {int(np.prod([c for c, _ in merged]))} values for an output of {y.size}")
    if len(merged) > _SLICE_DIMS:
        raise lw.fail(op, f"needs a copy over {len(merged)} dimensions (at most {_SLICE_DIMS})")
    pad = [(1, 0)] * (_SLICE_DIMS - len(merged)) + merged
    init = (f"{{{{{c_list([s for _, s in pad])}}}, {{{c_list([0] * _SLICE_DIMS)}}}, "
            f"{{{c_list([1] * _SLICE_DIMS)}}}, {{{c_list([c for c, _ in pad])}}}}}")
    return Step(op, [x.index], y.index, "ekrt_slice_t", init, [],
                "ekrt_strided_slice(&{params}, {in0}, {out});")


def _strides(shape: list[int]) -> list[int]:
    return [int(np.prod(shape[d + 1:])) for d in range(len(shape))]


@lowers("TRANSPOSE")
def transpose(lw: Lowerer, op: Operator) -> Step:
    """TRANSPOSE (Permute): output axis d reads input axis perm[d], a byte copy as TFLM."""
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    shape = list(x.shape)
    perm = [_axis(lw, op, p, len(shape)) for p in _ints(lw, op, op.inputs[1])]
    if sorted(perm) != list(range(len(shape))):
        raise lw.fail(op, f"has permutation {perm}, not one of its input's {len(shape)} axes")
    st = _strides(shape)
    return strided_copy(lw, op, x, y, [(shape[p], st[p]) for p in perm])


@lowers("TILE")
def tile(lw: Lowerer, op: Operator) -> Step:
    """TILE (UpSampling nearest, RepeatVector): output axis d = multiples[d] repeats of input
    axis d. TFLM has no TILE kernel: this is TFLite's (a byte copy)."""
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    shape = list(x.shape)
    mult = _ints(lw, op, op.inputs[1])
    if len(mult) != len(shape) or min(mult, default=1) < 1:
        raise lw.fail(op, f"has multiples {mult} for an input of shape {tuple(shape)}")
    st = _strides(shape)
    axes: list[tuple[int, int]] = []
    for d, m in enumerate(mult):
        axes += [(m, 0), (shape[d], st[d])]
    return strided_copy(lw, op, x, y, axes)


@lowers("ARG_MAX", "ARG_MIN")
def arg_min_max(lw: Lowerer, op: Operator) -> Step:
    """ARG_MAX/ARG_MIN (argmax over class scores): ekrt_arg_max/ekrt_arg_min writing int32
    indices, the first one on ties (TFLM's comparison on the raw int8 values)."""
    x = lw.act(op, op.inputs[0])
    y = lw.tensor(op.outputs[0])
    if y.dtype != "int32":
        raise lw.fail(op, f"outputs {y.dtype} indices (TFLM's {op.op} writes int32 only)")
    axes = _ints(lw, op, op.inputs[1])
    if len(axes) != 1:
        raise lw.fail(op, f"has {len(axes)} axes (one expected)")
    shape = list(x.shape)
    a = _axis(lw, op, axes[0], len(shape))
    outer, inner = int(np.prod(shape[:a])), int(np.prod(shape[a + 1:]))
    fn = "ekrt_arg_max" if op.op == "ARG_MAX" else "ekrt_arg_min"
    return Step(op, [x.index], y.index, "ekrt_argminmax_t", f"{{{outer}, {shape[a]}, {inner}}}", [],
                fn + "(&{params}, {in0}, (int32_t *)(void *){out});")


@lowers("REDUCE_MAX", "REDUCE_MIN")
def reduce_min_max(lw: Lowerer, op: Operator) -> Step:
    """REDUCE_MAX/REDUCE_MIN over contiguous axes (GlobalMaxPooling): ekrt_reduce_max/_min on
    the raw values; TFLM requires equal input and output scales."""
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    shape = list(x.shape)
    axes = sorted({_axis(lw, op, a, len(shape)) for a in _ints(lw, op, op.inputs[1])})
    if not axes or axes != list(range(axes[0], axes[-1] + 1)):
        raise lw.fail(op, f"reduces non-contiguous axes {axes}")
    if x.scale != y.scale:
        raise lw.fail(op, "has different input and output scales (TFLM refuses them too)")
    outer = int(np.prod(shape[:axes[0]]))
    reduce = int(np.prod([shape[a] for a in axes]))
    inner = int(np.prod(shape[axes[-1] + 1:]))
    fn = "ekrt_reduce_max" if op.op == "REDUCE_MAX" else "ekrt_reduce_min"
    return Step(op, [x.index], y.index, "ekrt_reduce_t", f"{{{outer}, {reduce}, {inner}}}", [],
                fn + "(&{params}, {in0}, {out});")


@lowers("SPLIT", "SPLIT_V")
def split(lw: Lowerer, op: Operator) -> Step:
    """SPLIT (equal parts) and SPLIT_V (given sizes, one may be -1) along one axis:
    ekrt_split, a byte copy into each output as in TFLM."""
    if op.op == "SPLIT":
        axis_in, x_in = op.inputs[0], op.inputs[1]
    else:
        x_in, axis_in = op.inputs[0], op.inputs[2]
    x = lw.act(op, x_in)
    ys = [lw.tensor(t) for t in op.outputs]
    for t in ys:
        if t.dtype != "int8":
            raise lw.fail(op, f"outputs {t.dtype}")
    shape = list(x.shape)
    axes = _ints(lw, op, axis_in)
    if len(axes) != 1:
        raise lw.fail(op, f"has {len(axes)} axes (one expected)")
    a = _axis(lw, op, axes[0], len(shape))
    sizes = [t.shape[a] if len(t.shape) == len(shape) else -1 for t in ys]
    if -1 in sizes or sum(sizes) != shape[a]:
        raise lw.fail(op, f"splits axis {a} of {tuple(shape)} into outputs of "
                          f"{[tuple(t.shape) for t in ys]}")
    outer, inner = int(np.prod(shape[:a])), int(np.prod(shape[a + 1:]))
    name = f"op{op.index}"
    consts = [ConstArray(f"{name}_n", "int32_t", np.array([s * inner for s in sizes], dtype=np.int64))]
    outs = ", ".join(["{out}"] + [f"{{out{k}}}" for k in range(1, len(ys))])
    call = (f"{{{{ int8_t *const outs[] = {{{{{outs}}}}}; "
            "ekrt_split(&{params}, {in0}, outs); }}")
    return Step(op, [x.index], ys[0].index, "ekrt_concat_t",
                f"{{{outer}, {shape[a] * inner}, {len(ys)}, {name}_n}}", consts, call,
                extra_outputs=[t.index for t in ys[1:]])
