"""Single-op QUANTIZE models between integer types (uint8, int8, int16), written directly as
TFLite flatbuffers (the schema module the tflite-micro wheel ships), for the requantize sweep.

The converter only emits the uint8 <-> int8 QUANTIZE of `inference_input_type` /
`inference_output_type` uint8 (same scale, zero points 128 apart); these models choose any
scales and zero points, so saturation and rounding paths are swept too. TFLM runs them as the
reference; the graph input and output are the QUANTIZE's own input and output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

_TYPES = {"uint8": schema.TensorType.UINT8, "int8": schema.TensorType.INT8,
          "int16": schema.TensorType.INT16, "int32": schema.TensorType.INT32}


@dataclass(frozen=True)
class Requant:
    """One QUANTIZE: input type, scale, zero point -> output type, scale, zero point."""

    name: str
    in_type: str
    in_scale: float
    in_zp: int
    out_type: str
    out_scale: float
    out_zp: int

    @property
    def width(self) -> int:
        """Elements of the tensors: every value of an 8-bit input in one row."""
        return 256


def _tensor(name: str, dtype: str, scale: float, zp: int, width: int) -> schema.TensorT:
    q = schema.QuantizationParametersT()
    q.scale, q.zeroPoint = [float(np.float32(scale))], [int(zp)]
    t = schema.TensorT()
    t.shape, t.type, t.buffer, t.name, t.quantization = [1, width], _TYPES[dtype], 0, name, q
    return t


def _model(tensors: list[tuple[str, str, float, int]], width: int) -> bytes:
    """A chain of QUANTIZE ops through `tensors` (name, type, scale, zero point): tensor 0
    is the graph input, the last one the output."""
    code = schema.OperatorCodeT()
    code.builtinCode = schema.BuiltinOperator.QUANTIZE
    code.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
    code.version = 1
    ops = []
    for k in range(len(tensors) - 1):
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [k], [k + 1]
        ops.append(op)
    sub = schema.SubGraphT()
    sub.tensors = [_tensor(*t, width) for t in tensors]
    sub.inputs, sub.outputs, sub.operators, sub.name = [0], [len(tensors) - 1], ops, "main"
    model = schema.ModelT()
    model.version, model.description = 3, "edgekit requantize sweep"
    model.operatorCodes, model.subgraphs, model.buffers = [code], [sub], [schema.BufferT()]
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def model_bytes(r: Requant) -> bytes:
    """The .tflite flatbuffer of one QUANTIZE from tensor 'x' (input) to 'y' (output)."""
    return _model([("x", r.in_type, r.in_scale, r.in_zp),
                   ("y", r.out_type, r.out_scale, r.out_zp)], r.width)


def chain_model_bytes() -> bytes:
    """uint8 -> int8 -> int16 -> int16 -> int8 -> uint8: every requantize kernel in one
    model (the uint8 <-> int8 ends as the converter makes them), 256 elements."""
    return _model([("x", "uint8", 0.02, 128), ("a", "int8", 0.02, 0),
                   ("b", "int16", 0.0007, 0), ("c", "int16", 0.0011, 13),
                   ("d", "int8", 0.03, -4), ("y", "uint8", 0.03, 124)], 256)


def convert_16x8(cache_dir: Path) -> bytes:
    """A dense model converted in TensorFlow's 16x8 mode with int16 input and output: the
    converter takes int16 `inference_input_type` only in that mode (int8 mode: int8, uint8)."""
    import tensorflow as tf

    path = cache_dir / f"dense_16x8-{tf.__version__}.tflite"
    if path.exists():
        return path.read_bytes()
    rng = np.random.default_rng(0)
    w = tf.constant(rng.normal(size=(6, 4)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 6], tf.float32)])
    def fn(x):
        return tf.nn.relu(tf.matmul(x, w))

    def rep():
        for _ in range(30):
            yield [rng.normal(size=(1, 6)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int16
    buf = bytes(conv.convert())
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf)
    tmp.rename(path)
    return buf


def all_inputs(dtype: str) -> np.ndarray:
    """Every value of `dtype`, as rows of 256 (1 row for 8-bit types, 256 for int16), plus
    one row of the 8-bit values reversed so the kernel sees them in another order. int32: 8
    rows of its extremes, values around 0 and random ones over the whole range."""
    info = np.iinfo(np.dtype(dtype))
    if dtype == "int32":
        rng = np.random.default_rng(32)
        fixed = np.concatenate([[info.min, info.max, info.min + 1, info.max - 1],
                                np.arange(-126, 126), rng.integers(-1 << 20, 1 << 20, 256)])
        rand = rng.integers(info.min, info.max, 256 * 6, endpoint=True)
        return np.concatenate([fixed, rand]).astype(np.int32).reshape(-1, 256)
    vals = np.arange(info.min, info.max + 1, dtype=np.int64).astype(dtype)
    rows = vals.reshape(-1, 256)
    if len(rows) == 1:
        rows = np.concatenate([rows, rows[:, ::-1]])
    return rows


# Every (input, output) pair TFLM's QUANTIZE takes among uint8/int8/int16/int32 with integer
# input (tensorflow/lite/micro/kernels/quantize_common.cc): u8->s8, s8->u8, s8->s8, s8->s16,
# s16->s8, s16->s16, s32<->s16, s32<->s8. Each with the same scale (TFLM's XOR fast path for u8<->s8), ratios
# below and above 1, and zero points that make the output saturate at either end.
SWEEP: list[Requant] = [
    Requant("u8_s8_converter", "uint8", 0.0192, 128, "int8", 0.0192, 0),
    Requant("u8_s8_same_scale_zp_diff_100", "uint8", 0.05, 131, "int8", 0.05, 31),
    Requant("u8_s8_ratio_0.37", "uint8", 0.037, 7, "int8", 0.1, -20),
    Requant("u8_s8_ratio_2.9", "uint8", 0.029, 140, "int8", 0.01, 5),
    Requant("s8_u8_converter", "int8", 0.0239, -128, "uint8", 0.0239, 0),
    Requant("s8_u8_ratio_0.61", "int8", 0.061, 3, "uint8", 0.1, 120),
    Requant("s8_u8_ratio_1.7", "int8", 0.17, -30, "uint8", 0.1, 200),
    Requant("s8_s8_ratio_3.3", "int8", 0.33, 11, "int8", 0.1, -7),
    Requant("s8_s16_ratio_200", "int8", 0.2, -5, "int16", 0.001, 0),
    Requant("s8_s16_ratio_700", "int8", 0.7, 100, "int16", 0.001, -1000),
    Requant("s8_s16_ratio_0.3", "int8", 0.0003, 0, "int16", 0.001, 37),
    Requant("s16_s8_ratio_0.004", "int16", 0.0004, 0, "int8", 0.1, -3),
    Requant("s16_s8_ratio_0.0002", "int16", 0.00002, 1234, "int8", 0.1, 60),
    Requant("s16_s16_ratio_0.77", "int16", 0.00077, 0, "int16", 0.001, 0),
    Requant("s16_s16_ratio_3.1", "int16", 0.0031, -200, "int16", 0.001, 150),
    # int32 <-> int16/int8: TFLM's SEANet quantize models (int32 in and out of a 16x8 graph).
    Requant("s32_s16_ratio_0.01", "int32", 0.00001, 0, "int16", 0.001, 0),
    Requant("s32_s8_ratio_0.001", "int32", 0.0001, 5, "int8", 0.1, -3),
    Requant("s16_s32_ratio_3.7", "int16", 0.0037, 0, "int32", 0.001, 100),
    Requant("s8_s32_ratio_250", "int8", 0.25, -7, "int32", 0.001, -20),
]
