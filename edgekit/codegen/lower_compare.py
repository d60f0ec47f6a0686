"""edgekit-rt lowerings of the comparisons (EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER,
GREATER_EQUAL) a decode step computes its masks with: a constant position range against the
run-time position (int32), or int8 operands; and of LOGICAL_AND/OR, which combine masks.
Their bool output (one byte per element, 0 or 1) feeds SELECT_V2 (lower_transformer.select)."""

from __future__ import annotations

import numpy as np

from edgekit.codegen import quant as Q
from edgekit.codegen.lower_base import ConstArray, Lowerer, Step, c_list, lowers, values
from edgekit.codegen.lower_transformer import broadcast_dims, broadcast_strides
from edgekit.model.tflite_graph import Operator, Tensor
from edgekit.runtimes import EDGEKIT_RT

# Which of a < b, a == b, a > b (bits 0, 1, 2) make each comparison true (ekrt_compare).
_MASKS = {"LESS": 1, "EQUAL": 2, "LESS_EQUAL": 3, "GREATER": 4, "NOT_EQUAL": 5, "GREATER_EQUAL": 6}


@lowers(*_MASKS)
def compare(lw: Lowerer, op: Operator) -> Step:
    """A comparison of int32 values, or of int8 ones as TFLM compares them (each rescaled by
    its own scale: rescaled(), a 256-entry table; a constant is rescaled here): ekrt_compare."""
    y = lw.tensor(op.outputs[0])
    a, b = (lw.tensor(i) for i in op.inputs[:2])
    if y.dtype != "bool" or a.dtype != b.dtype or a.dtype not in ("int32", "int8"):
        raise lw.fail(op, f"compares {a.dtype} with {b.dtype} into {y.dtype} ({EDGEKIT_RT} compares "
                          "int32 or int8 into bool)")
    if a.is_constant and b.is_constant:
        raise lw.fail(op, "compares two constants (fold it before conversion)")
    name = f"op{op.index}"
    consts: list[ConstArray] = []
    operands: list[str] = []
    act_inputs: list[int] = []
    tables: list[str] = []
    for k, t in enumerate((a, b)):
        table = None
        if t.dtype == "int8":
            q = lw.const_operand(op, t.index) if t.is_constant else lw.act(op, t.index)
            table = np.array(rescaled(q), dtype=np.int64)
        if t.is_constant:
            v = values(t).reshape(-1).astype(np.int64)
            consts.append(ConstArray(f"{name}_c{k}", "int32_t", v if table is None else table[v & 0xFF]))
            operands.append(f"{name}_c{k}")
            table = None
        else:
            operands.append(f"{{in{len(act_inputs)}}}")
            act_inputs.append(t.index)
        if table is not None:
            consts.append(ConstArray(f"{name}_t{k}", "int32_t", table))
        tables.append("0" if table is None else f"{name}_t{k}")
    dims, sa, sb = collapse(broadcast_dims(lw, op, y, [a, b]), broadcast_strides(a), broadcast_strides(b))
    return _compare_step(op, y, act_inputs, consts, operands, dims, sa, sb, _MASKS[op.op], 0, tables)


# LOGICAL_*: which (a, b) of bits 2 * a + b make them true. (The converter folds a LOGICAL_NOT
# into the comparison or SELECT it feeds, so there is none to check against TFLM.)
_LOGICAL = {"LOGICAL_AND": 8, "LOGICAL_OR": 14}


@lowers(*_LOGICAL)
def logical(lw: Lowerer, op: Operator) -> Step:
    """LOGICAL_AND, LOGICAL_OR of bool (masks combined): ekrt_compare's logical walk."""
    y = lw.tensor(op.outputs[0])
    a, b = (lw.tensor(i) for i in op.inputs[:2])
    if y.dtype != "bool" or a.dtype != "bool" or b.dtype != "bool":
        raise lw.fail(op, f"has {a.dtype} and {b.dtype} operands ({EDGEKIT_RT} takes bool)")
    if a.is_constant and b.is_constant:
        raise lw.fail(op, "has only constant operands (fold it before conversion)")
    name = f"op{op.index}"
    consts: list[ConstArray] = []
    operands: list[str] = []
    act_inputs: list[int] = []
    for k, t in enumerate((a, b)):
        if t.is_constant:
            consts.append(ConstArray(f"{name}_c{k}", "int8_t", values(t).reshape(-1).astype(np.int64)))
            operands.append(f"{name}_c{k}")
        else:
            operands.append(f"{{in{len(act_inputs)}}}")
            act_inputs.append(t.index)
    dims, sa, sb = collapse(broadcast_dims(lw, op, y, [a, b]), broadcast_strides(a), broadcast_strides(b))
    return _compare_step(op, y, act_inputs, consts, operands, dims, sa, sb, _LOGICAL[op.op], 1, ["0", "0"])


def _compare_step(op: Operator, y: Tensor, act_inputs: list[int], consts: list[ConstArray], operands: list[str],
                  dims: list[int], sa: list[int], sb: list[int], mask: int, logical: int, tables: list[str]) -> Step:
    init = (f"{{{{{c_list(dims)}}}, {{{c_list(sa)}}}, {{{c_list(sb)}}}, {mask}, {logical}, "
            f"{', '.join(tables)}}}")
    return Step(op, act_inputs, y.index, "ekrt_compare_t", init, consts,
                f"ekrt_compare(&{{params}}, {', '.join(operands)}, {{out}});")


def rescaled(t: Tensor) -> list[int]:
    """TFLM's comparison value of each int8 code (comparisons_common.cc: (x - zp) << 8 times
    the scale, QuantizeMultiplierSmallerThanOneExp), indexed by (uint8)x."""
    m, s = Q.quantize_multiplier(float(t.scale))
    table = [0] * 256
    for x in range(-128, 128):
        table[x & 0xFF] = Q.multiply_by_quantized_multiplier((x - t.zero_point) * 256, m, s)
    return table


def collapse(dims: list[int], sa: list[int], sb: list[int]) -> tuple[list[int], list[int], list[int]]:
    """The same 5-D walk with the fewest dimensions: size-1 axes dropped, and an axis merged into
    the next one where both operands step through them as one (so the innermost row is long)."""
    if 0 in dims:
        return dims, sa, sb
    axes = [[d, x, y] for d, x, y in zip(dims, sa, sb) if d > 1]
    merged: list[list[int]] = []
    for d, x, y in axes:
        if merged and merged[-1][1] == x * d and merged[-1][2] == y * d:
            merged[-1] = [merged[-1][0] * d, x, y]
        else:
            merged.append([d, x, y])
    merged = [[1, 0, 0]] * (5 - len(merged)) + merged
    return [m[0] for m in merged], [m[1] for m in merged], [m[2] for m in merged]
