"""edgekit-rt lowerings of the operators that move bytes without arithmetic: reshapes
(aliases, no code at all), concatenation and padding."""

from __future__ import annotations

import numpy as np

from edgekit.codegen.lower_base import ConstArray, Lowerer, Step, c_list, lowers, values
from edgekit.model.tflite_graph import Operator


@lowers("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def alias(lw: Lowerer, op: Operator) -> Step:
    """The output is the input's memory under another shape: the planner merges them. int32
    and bool too: ARG_MAX's class ids reshaped (keepdims), a comparison's mask."""
    t = lw.tensor(op.inputs[0])
    int32 = t.dtype in ("int32", "bool") and not t.is_constant
    x = t if int32 else lw.act(op, op.inputs[0])
    y = lw.tensor(op.outputs[0]) if int32 else lw.out(op)
    if y.dtype != x.dtype:
        raise lw.fail(op, f"turns {x.dtype} into {y.dtype}")
    if x.size != y.size:
        raise lw.fail(op, "changes the element count")
    return Step(op, [x.index], y.index, alias_of=x.index)


@lowers("CONCATENATION")
def concatenation(lw: Lowerer, op: Operator) -> Step:
    """CONCATENATION: ekrt_concat copying each input's slice per outer index along the axis (no rescaling)."""
    y = lw.out(op)
    xs = [lw.act(op, i) for i in op.inputs]
    axis = op.options.get("axis", -1)
    rank = len(y.shape)
    axis = axis + rank if axis < 0 else axis
    outer = int(np.prod(y.shape[:axis])) if axis else 1
    name = f"op{op.index}"
    per = [x.size // outer for x in xs]
    consts = [ConstArray(f"{name}_n", "int32_t", np.array(per, dtype=np.int64))]
    init = f"{{{outer}, {y.size // outer}, {len(xs)}, {name}_n}}"
    ins = ", ".join(f"{{in{k}}}" for k in range(len(xs)))
    # Doubled braces survive the planner's str.format() as the C block's braces.
    call = f"{{{{ const int8_t *const ins[] = {{{{{ins}}}}}; ekrt_concat(&{{params}}, ins, {{out}}); }}}}"
    return Step(op, [x.index for x in xs], y.index, "ekrt_concat_t", init, consts, call)


@lowers("PAD", "PADV2")
def pad(lw: Lowerer, op: Operator) -> Step:
    """PAD/PADV2 up to 4-D: ekrt_pad filling with the output zero point (PADV2: its constant value)."""
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    pads = values(lw.const(op, op.inputs[1], "int32")).reshape(-1, 2)
    rank = len(x.shape)
    if rank > 4:
        raise lw.fail(op, "has rank > 4")
    value = y.zero_point
    if op.op == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = int(values(lw.const(op, op.inputs[2], "int8")).reshape(-1)[0])
    ind = [1] * (4 - rank) + list(x.shape)
    outd = [1] * (4 - rank) + list(y.shape)
    before = [0] * (4 - rank) + [int(p) for p in pads[:, 0]]
    init = f"{{{{{c_list(ind)}}}, {{{c_list(outd)}}}, {{{c_list(before)}}}, {value}}}"
    return Step(op, [x.index], y.index, "ekrt_pad_t", init, [],
                "ekrt_pad(&{params}, {in0}, {out});")
