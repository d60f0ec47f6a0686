"""edgekit-rt lowerings of the recurrent-model operators: the integer
UNIDIRECTIONAL_SEQUENCE_LSTM (TFLM's kernel, state in its own persistent memory),
STRIDED_SLICE (the last time step of an LSTM's sequence, time-step slicing) and GATHER
(embedding tables indexed by int32 token ids)."""

from __future__ import annotations

import numpy as np

from edgekit.codegen import quant as Q
from edgekit.codegen.lower_base import ConstArray, Lowerer, StateArray, Step, block_weights, c_list, lowers, values
from edgekit.model.tflite_graph import Operator, Tensor

# UNIDIRECTIONAL_SEQUENCE_LSTM input slots (TFLite's lstm_shared.h).
_LSTM_IN, _LSTM_H, _LSTM_C = 0, 18, 19
_LSTM_W_IN = (1, 2, 3, 4)        # input-to-{input, forget, cell, output} weights
_LSTM_W_REC = (5, 6, 7, 8)       # recurrent-to-... weights
_LSTM_BIAS = (12, 13, 14, 15)    # gate biases
_LSTM_VARIANTS = {"peephole": (9, 10, 11), "projection": (16, 17), "layer norm": (20, 21, 22, 23)}


def _wrap32(v: np.ndarray) -> np.ndarray:
    """int64 values wrapped to int32, as TFLM's int32 sums wrap."""
    return ((v + (1 << 31)) % (1 << 32)) - (1 << 31)


def _lstm_state(lw: Lowerer, op: Operator, i: int, dtype: str, units: int) -> Tensor:
    t = lw.tensor(op.inputs[i])
    what = "hidden" if i == _LSTM_H else "cell"
    if not t.is_variable:
        raise lw.fail(op, f"has a {what} state '{t.name}' that is not a variable tensor")
    if t.dtype != dtype:
        raise lw.fail(op, f"has a {t.dtype} {what} state '{t.name}' ({dtype} needed: full-int8 LSTM)")
    if t.size != units:
        raise lw.fail(op, f"has a {what} state of {t.size} values for {units} units (batch 1 only)")
    if t.quant is None or t.quant.per_channel:
        raise lw.fail(op, f"has a {what} state '{t.name}' without per-tensor quantization")
    return t


def _lstm_weights(lw: Lowerer, op: Operator, i: int, rows: int, cols: int) -> tuple[Tensor, np.ndarray]:
    if op.inputs[i] < 0:
        raise lw.fail(op, "has no input gate (CIFG); edgekit-rt runs the standard LSTM")
    w = lw.const(op, op.inputs[i], "int8")
    if w.quant is None or w.quant.per_channel or np.any(w.quant.zero_point != 0):
        raise lw.fail(op, f"has weights '{w.name}' that are not per-tensor symmetric int8")
    if tuple(w.shape) != (rows, cols):
        raise lw.fail(op, f"has weights '{w.name}' of shape {tuple(w.shape)}, not {(rows, cols)}")
    return w, values(w).reshape(rows, cols).astype(np.int64)


@lowers("UNIDIRECTIONAL_SEQUENCE_LSTM")
def unidirectional_sequence_lstm(lw: Lowerer, op: Operator) -> Step:
    """Full-int8 LSTM (int8 activations and weights, int32 biases, int16 cell state): ekrt_lstm
    over the whole sequence, multipliers from quant.lstm_*; hidden and cell state are
    StateArrays reset by {prefix}_reset()."""
    if len(op.inputs) != 24:
        raise lw.fail(op, f"has {len(op.inputs)} inputs (24 expected)")
    for what, slots in _LSTM_VARIANTS.items():
        if any(op.inputs[k] >= 0 for k in slots):
            raise lw.fail(op, f"uses {what} tensors; edgekit-rt (like TFLM) runs the standard LSTM "
                              "without peephole, projection or layer norm")
    o = op.options
    x = lw.act(op, op.inputs[_LSTM_IN])
    y = lw.out(op)
    if len(x.shape) != 3:
        raise lw.fail(op, f"has a rank-{len(x.shape)} input (3 expected)")
    time_major = bool(o.get("time_major", False))
    steps, batch = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    if batch != 1:
        raise lw.fail(op, f"has batch {batch}; edgekit-rt runs LSTM sequences of batch 1")
    in_dim = x.shape[2]
    w_rec0 = lw.tensor(op.inputs[_LSTM_W_REC[0]])
    units = w_rec0.shape[0] if w_rec0.shape else 0
    act = o.get("fused_activation_function", "TANH")
    if act not in ("TANH", "SIGMOID"):
        raise lw.fail(op, f"has cell activation {act}; TFLM's integer LSTM takes TANH or SIGMOID")
    h = _lstm_state(lw, op, _LSTM_H, "int8", units)
    c = _lstm_state(lw, op, _LSTM_C, "int16", units)
    if c.zero_point != 0:
        raise lw.fail(op, f"has a cell state '{c.name}' with a non-zero zero point")
    if y.size != steps * units:
        raise lw.fail(op, f"outputs {y.size} values for {steps} steps of {units} units")
    name = f"op{op.index}"
    consts: list[ConstArray] = []
    gates = []
    for g in range(4):
        w_in, a_in = _lstm_weights(lw, op, _LSTM_W_IN[g], units, in_dim)
        w_rec, a_rec = _lstm_weights(lw, op, _LSTM_W_REC[g], units, units)
        b = lw.const(op, op.inputs[_LSTM_BIAS[g]], "int32")
        bias = values(b).reshape(-1).astype(np.int64)
        if bias.size != units:
            raise lw.fail(op, f"has bias '{b.name}' of {bias.size} values for {units} units")
        consts += [ConstArray(f"{name}_wi{g}", "int8_t", block_weights(a_in)),
                   ConstArray(f"{name}_wr{g}", "int8_t", block_weights(a_rec)),
                   ConstArray(f"{name}_bi{g}", "int32_t", _wrap32(bias - x.zero_point * a_in.sum(axis=1))),
                   ConstArray(f"{name}_br{g}", "int32_t", _wrap32(-h.zero_point * a_rec.sum(axis=1)))]
        mi, si = Q.lstm_fc_multiplier(x.scale, w_in.scale)
        mr, sr = Q.lstm_fc_multiplier(h.scale, w_rec.scale)
        gates.append(f"{{{name}_wi{g}, {name}_wr{g}, {name}_bi{g}, {name}_br{g}, {mi}, {mr}, {si}, {sr}}}")
    fc_m, fc_s = Q.lstm_mul_multiplier(Q.LSTM_ACT_SCALE, c.scale, c.scale)
    ig_m, ig_s = Q.lstm_mul_multiplier(Q.LSTM_ACT_SCALE, Q.LSTM_ACT_SCALE, c.scale)
    oh_m, oh_s = Q.lstm_mul_multiplier(Q.LSTM_ACT_SCALE, Q.LSTM_ACT_SCALE, h.scale)
    tanh_m, tanh_s = Q.lstm_tanh_params(Q.lstm_cell_scale_power(c.scale))
    clip = Q.lstm_cell_clip(float(o.get("cell_clip", 0.0)), c.scale)
    init = (f"{{{steps}, {in_dim}, {units}, {{{', '.join(gates)}}}, {fc_m}, {ig_m}, {oh_m}, "
            f"{fc_s}, {ig_s}, {oh_s}, {tanh_m}, {tanh_s}, {h.zero_point}, {clip}, "
            f"{1 if act == 'TANH' else 0}, {name}_h, {name}_c}}")
    return Step(op, [x.index], y.index, "ekrt_lstm_t", init, consts,
                "ekrt_lstm(&{params}, {in0}, {out});",
                macs=steps * 4 * units * (in_dim + units),
                state=[StateArray(f"{name}_h", "int8_t", units), StateArray(f"{name}_c", "int16_t", units)],
                reset_call=f"ekrt_lstm_reset(&{name});")


@lowers("STRIDED_SLICE")
def strided_slice(lw: Lowerer, op: Operator) -> Step:
    """STRIDED_SLICE up to 5-D with constant begin/end/strides, begin/end/shrink masks:
    ekrt_strided_slice with start, step and count per axis resolved here."""
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    o = op.options
    for opt in ("ellipsis_mask", "new_axis_mask"):
        if o.get(opt, 0):
            raise lw.fail(op, f"uses {opt}")
    if o.get("offset", False):
        raise lw.fail(op, "uses offset=True")
    rank = len(x.shape)
    if rank > 5:
        raise lw.fail(op, "has rank > 5")
    begin, end, stride = (values(lw.const(op, op.inputs[k], "int32")).reshape(-1).tolist() for k in (1, 2, 3))
    if not (len(begin) == len(end) == len(stride) == rank):
        raise lw.fail(op, "has begin/end/strides of another rank than its input")
    starts, steps_, counts = [], [], []
    for d in range(rank):
        n = x.shape[d]
        if o.get("shrink_axis_mask", 0) >> d & 1:
            b = begin[d] + n if begin[d] < 0 else begin[d]
            if not 0 <= b < n:
                raise lw.fail(op, f"takes index {begin[d]} of an axis of {n}")
            starts.append(b)
            steps_.append(1)
            counts.append(1)
            continue
        if stride[d] == 0:
            raise lw.fail(op, "has a zero stride")
        sl = slice(None if o.get("begin_mask", 0) >> d & 1 else begin[d],
                   None if o.get("end_mask", 0) >> d & 1 else end[d], stride[d])
        start, _, step = sl.indices(n)
        count = len(range(*sl.indices(n)))
        starts.append(start)
        steps_.append(step)
        counts.append(count)
    if int(np.prod(counts)) != y.size:
        raise lw.fail(op, f"selects {int(np.prod(counts))} values for an output of {y.size}")
    strides_el = [int(np.prod(x.shape[d + 1:])) for d in range(rank)]
    pad = 5 - rank
    init = (f"{{{{{c_list([1] * pad + strides_el)}}}, {{{c_list([0] * pad + starts)}}}, "
            f"{{{c_list([1] * pad + steps_)}}}, {{{c_list([1] * pad + counts)}}}}}")
    return Step(op, [x.index], y.index, "ekrt_slice_t", init, [],
                "ekrt_strided_slice(&{params}, {in0}, {out});")


@lowers("GATHER")
def gather(lw: Lowerer, op: Operator) -> Step:
    """GATHER of int8 values by int32 indices (an embedding lookup: constant table, token ids
    as the model input), any axis, batch_dims 0: ekrt_gather; an index out of range makes
    the invoke return -5 instead of reading outside the table."""
    y = lw.out(op)
    p = lw.tensor(op.inputs[0])
    ix = lw.tensor(op.inputs[1])
    if op.options.get("batch_dims", 0):
        raise lw.fail(op, "uses batch_dims")
    if ix.dtype != "int32":
        raise lw.fail(op, f"has {ix.dtype} indices '{ix.name}' (int32 needed)")
    name = f"op{op.index}"
    consts: list[ConstArray] = []
    act_inputs: list[int] = []
    if p.is_constant:
        lw.const_operand(op, p.index)
        consts.append(ConstArray(f"{name}_t", "int8_t", values(p).reshape(-1)))
        table = f"{name}_t"
    else:
        lw.act(op, p.index)
        table = "{in0}"
        act_inputs.append(p.index)
    if ix.is_constant:
        consts.append(ConstArray(f"{name}_i", "int32_t", values(ix).reshape(-1).astype(np.int64)))
        idx = f"{name}_i"
    else:
        idx = f"(const int32_t *)(const void *){{in{len(act_inputs)}}}"
        act_inputs.append(ix.index)
    if p.quant is None or y.quant is None or p.scale != y.scale or p.zero_point != y.zero_point:
        raise lw.fail(op, "changes the quantization between table and output")
    axis = int(op.options.get("axis", 0))
    axis = axis + len(p.shape) if axis < 0 else axis
    if not 0 <= axis < len(p.shape):
        raise lw.fail(op, f"has axis {axis} outside its table's rank {len(p.shape)}")
    outer = int(np.prod(p.shape[:axis]))
    inner = int(np.prod(p.shape[axis + 1:]))
    if y.size != outer * ix.size * inner:
        raise lw.fail(op, "has inconsistent shapes")
    init = f"{{{outer}, {p.shape[axis]}, {ix.size}, {inner}}}"
    call = f"if (ekrt_gather(&{{params}}, {table}, {idx}, {{out}}) != 0) {{{{ return -5; }}}}"
    return Step(op, act_inputs, y.index, "ekrt_gather_t", init, consts, call)


@lowers("UNPACK")
def unpack(lw: Lowerer, op: Operator) -> Step:
    """UNPACK (the time steps of a sequence, one output each): ekrt_unpack, a byte copy as in
    TFLM (no requantization)."""
    x = lw.act(op, op.inputs[0])
    ys = [lw.tensor(t) for t in op.outputs]
    for t in ys:
        if t.dtype != "int8":
            raise lw.fail(op, f"outputs {t.dtype}")
    axis = int(op.options.get("axis", 0))
    axis = axis + len(x.shape) if axis < 0 else axis
    if not 0 <= axis < len(x.shape) or x.shape[axis] != len(ys):
        raise lw.fail(op, f"splits axis {axis} of {tuple(x.shape)} into {len(ys)} outputs")
    outer = int(np.prod(x.shape[:axis]))
    inner = int(np.prod(x.shape[axis + 1:]))
    outs = ", ".join(["{out}"] + [f"{{out{k}}}" for k in range(1, len(ys))])
    call = (f"{{{{ int8_t *const outs[] = {{{{{outs}}}}}; "
            "ekrt_unpack(&{params}, {in0}, outs); }}")
    return Step(op, [x.index], ys[0].index, "ekrt_unpack_t", f"{{{outer}, {len(ys)}, {inner}}}", [],
                call, extra_outputs=[t.index for t in ys[1:]])


@lowers("PACK")
def pack(lw: Lowerer, op: Operator) -> Step:
    """PACK (time steps back into a sequence): ekrt_concat along the new axis, a byte copy as
    in TFLM (no requantization)."""
    y = lw.out(op)
    xs = [lw.act(op, i) for i in op.inputs]
    axis = int(op.options.get("axis", 0))
    axis = axis + len(y.shape) if axis < 0 else axis
    if not 0 <= axis < len(y.shape) or y.shape[axis] != len(xs):
        raise lw.fail(op, f"stacks {len(xs)} inputs on axis {axis} of {tuple(y.shape)}")
    outer = int(np.prod(y.shape[:axis]))
    name = f"op{op.index}"
    per = [x.size // outer for x in xs]
    consts = [ConstArray(f"{name}_n", "int32_t", np.array(per, dtype=np.int64))]
    ins = ", ".join(f"{{in{k}}}" for k in range(len(xs)))
    call = f"{{{{ const int8_t *const ins[] = {{{{{ins}}}}}; ekrt_concat(&{{params}}, ins, {{out}}); }}}}"
    return Step(op, [x.index for x in xs], y.index, "ekrt_concat_t",
                f"{{{outer}, {y.size // outer}, {len(xs)}, {name}_n}}", consts, call)
