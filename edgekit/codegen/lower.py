"""Lower a TFLite graph to a list of edgekit-rt kernel calls (validation included).

Each supported operator becomes a `Step` (lower_base.py): the C kernel to call, its
parameter struct initializer, the constant arrays it needs, the activation tensors it reads
and writes, its scratch need, and whether it may run in place. The supported operators are
exactly those with a registered lowering (`@lowers` in the lower_* modules imported below);
anything else is a ModelError naming the operator, its index and its output tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

# Imported for their @lowers registrations (pointwise, resample, select: Keras 3 layers' ops).
from edgekit.codegen import (  # noqa: F401
    lower_compare,
    lower_elementwise,
    lower_int16,
    lower_nn,
    lower_pointwise,
    lower_recurrent,
    lower_resample,
    lower_select,
    lower_shape,
    lower_transformer,
)
from edgekit.codegen.lower_base import LOWERINGS, USE_TFLM, Lowerer, Step
from edgekit.errors import ModelError
from edgekit.model.tflite_graph import Graph
from edgekit.runtimes import EDGEKIT_RT

SUPPORTED_OPS: tuple[str, ...] = tuple(sorted(LOWERINGS))


def lower_graph(graph: Graph, speed: bool = False) -> list[Step]:
    """One Step per operator, in graph order; ModelError for a model edgekit-rt cannot run.
    `speed`: generate --optimize speed (faster kernels on more weight flash)."""
    for idx in graph.inputs:
        _check_edge(graph, idx, "input")
    for idx in graph.outputs:
        _check_edge(graph, idx, "output")
    lw = Lowerer(graph, speed)
    steps = []
    for op in graph.operators:
        lowering = LOWERINGS.get(op.op)
        if op.op not in lower_int16.INT16_EDGE_OPS and lower_int16.int16_op(lw, op):
            # A 16x8 model's op: only the int16 kernels compute on int16 activations.
            lowering = lower_int16.INT16_LOWERINGS.get(op.op)
            if lowering is None:
                raise lw.fail(op, f"has int16 activations; {EDGEKIT_RT} has int16 kernels for "
                              + ", ".join(lower_int16.INT16_OPS) + " only")
        if lowering is None:
            raise lw.fail(op, f"is not supported by {EDGEKIT_RT} (supported: "
                          + ", ".join(SUPPORTED_OPS) + ")")
        steps.append(lowering(lw, op))
    drop_unread(graph, steps)
    return steps


def drop_unread(graph: Graph, steps: list[Step]) -> None:
    """Marks `unread` the steps whose output no step reads (a TRANSPOSE a BATCH_MATMUL reads
    through: lower_transformer._through_transpose): the planner and the C leave them out."""
    for i in unread_steps(graph, steps, lambda st: st.inputs):
        steps[i].unread = True


def unread_steps(graph: Graph, steps: Sequence[Step], reads: Callable[[Step], list[int]]) -> frozenset[int]:
    """The steps (indices) whose outputs neither a later step reads (`reads(step)`: the tensors
    it reads) nor the caller takes (graph and state outputs), last first, so that what only
    they read goes too. Steps owning state (LSTM) always run."""
    group = {st.output: st.alias_of for st in steps if st.alias_of is not None}

    def rep(t: int) -> int:
        while t in group:
            t = group[t]
        return t

    read = {rep(t) for t in (*graph.outputs, *(sp.output for sp in graph.state))}
    out = set()
    for i in range(len(steps) - 1, -1, -1):
        st = steps[i]
        if st.alias_of is not None:
            continue
        if st.unread or (not st.state and not any(rep(t) in read for t in (st.output, *st.extra_outputs))):
            out.add(i)
        else:
            read.update(rep(t) for t in reads(st))
    return frozenset(out)


# What a graph input/output may be. int32 inputs are token ids, taken by the ops that index
# with them (GATHER); an int32 output is class ids (ARG_MAX), checked by the op that writes it.
# int16 is a 16x8 model's activation type (lower_int16.py checks each op). The others reach
# int8 through one op at the graph's edge: uint8 through QUANTIZE, float32 through QUANTIZE in
# and DEQUANTIZE out (an integer model converted without inference_input_type: the default).
_EDGE_TYPES = {"input": ("int8", "uint8", "int16", "int32", "float32"),
               "output": ("int8", "uint8", "int16", "int32", "float32")}
_EDGE_OPS = {"uint8": ("QUANTIZE",), "float32": ("QUANTIZE", "DEQUANTIZE")}


def _check_edge(graph: Graph, idx: int, what: str) -> None:
    t = graph.tensors[idx]
    types = _EDGE_TYPES[what]
    if t.dtype not in types:
        raise ModelError(f"model {what} '{t.name}' is {t.dtype}; {EDGEKIT_RT} needs an "
                         f"{', '.join(types[:-1])} or {types[-1]} {what}",
                         hint=f"quantize with int8 input/output (`edgekit quantize`) or {USE_TFLM}")
    allowed = _EDGE_OPS.get(t.dtype)
    if allowed is None:
        return
    ops = [op for op in graph.operators if idx in (op.inputs if what == "input" else op.outputs)]
    other = next((op for op in ops if op.op not in allowed), None)
    if other is not None:
        raise ModelError(f"model {what} '{t.name}' is {t.dtype} and "
                         f"{'goes into' if what == 'input' else 'comes from'} operator "
                         f"{other.index} ({other.op}); {EDGEKIT_RT} takes {t.dtype} only through "
                         f"{' or '.join(allowed)} to/from int8", hint=f"{USE_TFLM} instead")
