"""The host reference of a model holding an int8 op TFLM has no kernel for, where that op is a
function of one int8 value (GELU): TFLM runs a twin of the model in which each such op is
GATHER(table, CAST(x) + 128), the table being what LiteRT's reference kernel gives for each of
the 256 inputs with the op's own quantization and options. The op is then judged by LiteRT's
kernel and every other op by TFLM's, which edgekit-rt follows (LiteRT's reference SOFTMAX,
BATCH_MATMUL, FULLY_CONNECTED... differ from TFLM's by an LSB here and there, so running the whole
model on LiteRT would blame edgekit-rt for TFLM's rounding).
"""

from __future__ import annotations

from typing import Any

import numpy as np

TABLE_OPS = ("GELU",)   # int8 -> int8, elementwise, no state: exactly a 256-entry table


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # the converter's copy of the same schema
        from tensorflow.lite.python import schema_py_generated as schema
    return schema


def table_twin(buf: bytes) -> bytes | None:
    """The twin of the .tflite `buf` with every int8 TABLE_OPS op replaced (see the module
    docstring), or None when one of them is not int8 per-tensor in and out."""
    import flatbuffers

    S = _schema()
    model = S.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    sub = model.subgraphs[0]
    names = {getattr(S.BuiltinOperator, n): n for n in TABLE_OPS}

    def code_of(oc: Any) -> int:
        return max(oc.builtinCode, oc.deprecatedBuiltinCode)

    def opcode(code: int) -> int:
        for k, oc in enumerate(model.operatorCodes):
            if code_of(oc) == code:
                return k
        oc = S.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
        model.operatorCodes.append(oc)
        return len(model.operatorCodes) - 1

    def tensor(name: str, ttype: int, shape: list[int], data: bytes | None = None) -> int:
        t = S.TensorT()
        t.name, t.type, t.shape = name.encode(), ttype, shape
        b = S.BufferT()
        b.data = list(data) if data is not None else []
        model.buffers.append(b)
        t.buffer = len(model.buffers) - 1
        sub.tensors.append(t)
        return len(sub.tensors) - 1

    def op(code: int, inputs: list[int], outputs: list[int]) -> Any:
        o = S.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = opcode(code), inputs, outputs
        return o

    ops = []
    for k, o in enumerate(sub.operators):
        code = code_of(model.operatorCodes[o.opcodeIndex])
        if code not in names:
            ops.append(o)
            continue
        x, y = sub.tensors[o.inputs[0]], sub.tensors[o.outputs[0]]
        if not all(t.type == S.TensorType.INT8 and t.quantization is not None
                   and len(t.quantization.scale) == 1 for t in (x, y)):
            return None
        table = _litert_table(S, model.operatorCodes[o.opcodeIndex], o, x, y)
        t_table = tensor(f"edgekit_table{k}", S.TensorType.INT8, [256], table.tobytes())
        t_128 = tensor(f"edgekit_table{k}_128", S.TensorType.INT32, [], np.int32(128).tobytes())
        t_i = tensor(f"edgekit_table{k}_i32", S.TensorType.INT32, list(x.shape))
        t_idx = tensor(f"edgekit_table{k}_idx", S.TensorType.INT32, list(x.shape))
        ops += [op(S.BuiltinOperator.CAST, [o.inputs[0]], [t_i]),
                op(S.BuiltinOperator.ADD, [t_i, t_128], [t_idx]),
                op(S.BuiltinOperator.GATHER, [t_table, t_idx], [o.outputs[0]])]
    sub.operators = ops
    builder = flatbuffers.Builder(len(buf) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _litert_table(S: Any, opcode: Any, o: Any, x: Any, y: Any) -> np.ndarray:
    """LiteRT's reference kernel's outputs for the int8 inputs -128..127 of op `o` (its opcode,
    options and the quantization of its input `x` and output `y`), as a one-op model."""
    import flatbuffers
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    def tensor(src: Any, name: bytes) -> Any:
        t = S.TensorT()
        t.name, t.type, t.shape = name, S.TensorType.INT8, [256]
        q = S.QuantizationParametersT()
        q.scale, q.zeroPoint = list(src.quantization.scale), list(src.quantization.zeroPoint)
        t.quantization, t.buffer = q, 0
        return t

    one = S.ModelT()
    one.version, one.buffers = 3, [S.BufferT()]
    oc = S.OperatorCodeT()
    oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = opcode.builtinCode, opcode.deprecatedBuiltinCode, \
        opcode.version
    one.operatorCodes = [oc]
    op = S.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    op.builtinOptionsType, op.builtinOptions = o.builtinOptionsType, o.builtinOptions
    sub = S.SubGraphT()
    sub.tensors, sub.inputs, sub.outputs, sub.operators = [tensor(x, b"x"), tensor(y, b"y")], [0], [1], [op]
    one.subgraphs = [sub]
    builder = flatbuffers.Builder(4096)
    builder.Finish(one.Pack(builder), file_identifier=b"TFL3")
    it = Interpreter(model_content=bytes(builder.Output()),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.arange(-128, 128, dtype=np.int8))
    it.invoke()
    return np.asarray(it.get_tensor(it.get_output_details()[0]["index"]), dtype=np.int8)


__all__ = ["TABLE_OPS", "table_twin"]
