"""edgekit-rt lowerings of the pointwise ops Keras 3's common layers produce beyond ADD/SUB/MUL:
ELU and ABS (256-entry tables), PRELU (PReLU), MAXIMUM/MINIMUM (Maximum, Minimum, ReLU(max_value))
and SQUARED_DIFFERENCE; the binary ones broadcast like ADD (lower_elementwise.broadcast_binary)."""

from __future__ import annotations

import numpy as np

from edgekit.codegen import quant as Q
from edgekit.codegen.lower_base import ConstArray, Lowerer, Step, lowers
from edgekit.codegen.lower_elementwise import BinaryParams, broadcast_binary
from edgekit.model.tflite_graph import Operator, Tensor

_NO_RESCALE = {"m1": 0, "sh1": 0, "m2": 0, "sh2": 0, "mo": 0, "sho": 0, "left_shift": 0}


@lowers("ELU", "ABS")
def table_op(lw: Lowerer, op: Operator) -> Step:
    """ELU, ABS: ekrt_lut over a 256-entry table of TFLM's results (ELU: its own table,
    computed in float at Prepare; ABS: |x - zp| rescaled as its kernel does)."""
    x = lw.act(op, op.inputs[0])
    y = lw.out(op)
    name = f"op{op.index}_lut"
    table = (Q.elu_table if op.op == "ELU" else Q.abs_table)(x.scale, x.zero_point, y.scale, y.zero_point)
    consts = [ConstArray(name, "int8_t", np.array(table, dtype=np.int64))]
    return Step(op, [x.index], y.index, "", "", consts,
                f"ekrt_lut({name}, {{in0}}, {{out}}, {x.size});",
                inplace_call=f"ekrt_lut({name}, {{in0}}, {{in0}}, {x.size});")


@lowers("MAXIMUM", "MINIMUM")
def maximum_minimum(lw: Lowerer, op: Operator) -> Step:
    """MAXIMUM/MINIMUM: the raw int8 values compared, as TFLM (which does not rescale operands
    of different quantization either)."""

    def params(a: Tensor, b: Tensor, y: Tensor) -> BinaryParams:
        return _NO_RESCALE, Q.INT8_MIN, Q.INT8_MAX

    fn = "ekrt_maximum" if op.op == "MAXIMUM" else "ekrt_minimum"
    return broadcast_binary(lw, op, fn, params)


@lowers("PRELU")
def prelu(lw: Lowerer, op: Operator) -> Step:
    """PRELU (PReLU, alpha a constant broadcast over the input): ekrt_prelu with TFLM's two
    multipliers, scale_in / scale_out (x >= 0) and scale_in * scale_alpha / scale_out."""
    if len(lw.tensor(op.inputs[0]).shape) != len(lw.tensor(op.outputs[0]).shape):
        raise lw.fail(op, "has an input of another rank than its output")

    def params(x: Tensor, alpha: Tensor, y: Tensor) -> BinaryParams:
        m1, sh1 = Q.quantize_multiplier(float(x.scale) / float(y.scale))
        mo, sho = Q.quantize_multiplier(float(x.scale) * float(alpha.scale) / float(y.scale))
        return ({"m1": m1, "sh1": sh1, "m2": 0, "sh2": 0, "mo": mo, "sho": sho, "left_shift": 0},
                Q.INT8_MIN, Q.INT8_MAX)

    return broadcast_binary(lw, op, "ekrt_prelu", params)


@lowers("SQUARED_DIFFERENCE")
def squared_difference(lw: Lowerer, op: Operator) -> Step:
    """SQUARED_DIFFERENCE: ekrt_squared_difference with TFLM's multipliers (left shift 7)."""

    def params(a: Tensor, b: Tensor, y: Tensor) -> BinaryParams:
        return Q.squared_difference_params(a.scale, b.scale, y.scale), Q.INT8_MIN, Q.INT8_MAX

    return broadcast_binary(lw, op, "ekrt_squared_difference", params)
