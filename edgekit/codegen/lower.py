"""Lower a TFLite graph to a list of edgekit-rt kernel calls (validation included).

Each supported operator becomes a `Step` (lower_base.py): the C kernel to call, its
parameter struct initializer, the constant arrays it needs, the activation tensors it reads
and writes, its scratch need, and whether it may run in place. The supported operators are
exactly those with a registered lowering (`@lowers` in the lower_* modules imported below);
anything else is a ModelError naming the operator, its index and its output tensor.
"""

from __future__ import annotations

# Imported for their @lowers registrations (pointwise, resample, select: Keras 3 layers' ops).
from edgekit.codegen import (  # noqa: F401
    lower_elementwise,
    lower_nn,
    lower_pointwise,
    lower_recurrent,
    lower_resample,
    lower_select,
    lower_shape,
)
from edgekit.codegen.lower_base import LOWERINGS, USE_TFLM, Lowerer, Step
from edgekit.errors import ModelError
from edgekit.model.tflite_graph import Graph
from edgekit.runtimes import EDGEKIT_RT

SUPPORTED_OPS: tuple[str, ...] = tuple(sorted(LOWERINGS))


def lower_graph(graph: Graph) -> list[Step]:
    """One Step per operator, in graph order; ModelError for a model edgekit-rt cannot run."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ModelError(f"{EDGEKIT_RT} supports single-input single-output models; this one "
                         f"has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs",
                         hint=f"{USE_TFLM} instead")
    # int32 inputs are token ids, taken by the ops that index with them (GATHER). uint8 and
    # int16 inputs/outputs are converted from/to int8 by a QUANTIZE at the graph's edge. An
    # int32 output is class ids (ARG_MAX), checked by the op that writes it.
    for idx, what, types in ((graph.inputs[0], "input", ("int8", "uint8", "int16", "int32")),
                             (graph.outputs[0], "output", ("int8", "uint8", "int16", "int32"))):
        t = graph.tensors[idx]
        if t.dtype not in types:
            raise ModelError(f"model {what} '{t.name}' is {t.dtype}; {EDGEKIT_RT} needs an "
                             f"{', '.join(types[:-1])} or {types[-1]} {what}",
                             hint="quantize with int8 input/output (`edgekit "
                             f"quantize`) or {USE_TFLM}")
        if t.dtype in ("uint8", "int16"):
            ops = [op for op in graph.operators if idx in (op.inputs if what == "input" else op.outputs)]
            other = next((op for op in ops if op.op != "QUANTIZE"), None)
            if other is not None:
                # int16: a 16x8 model (the converter's only way to int16 input/output).
                why = " (a 16x8 model: it has no int16-activation kernels)" if t.dtype == "int16" else ""
                raise ModelError(f"model {what} '{t.name}' is {t.dtype} and "
                                 f"{'goes into' if what == 'input' else 'comes from'} operator "
                                 f"{other.index} ({other.op}); {EDGEKIT_RT} takes {t.dtype} only "
                                 f"through a QUANTIZE to/from int8{why}", hint=f"{USE_TFLM} instead")
    lw = Lowerer(graph)
    steps = []
    for op in graph.operators:
        lowering = LOWERINGS.get(op.op)
        if lowering is None:
            raise lw.fail(op, f"is not supported by {EDGEKIT_RT} (supported: "
                          + ", ".join(SUPPORTED_OPS) + ")")
        steps.append(lowering(lw, op))
    return steps
