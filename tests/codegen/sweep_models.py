"""Small Keras models, one or two ops each, converted to int8 TFLite for the op sweeps.

Each spec is (name, input shape, builder(keras, inputs) -> outputs, per_tensor flag).
Converted models are cached on disk keyed by the spec name and the TF version, because a
conversion costs one to two seconds.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Builder = Callable[[Any, Any], Any]


def _conv(L, f, k, s=1, pad="same", act=None, d=1, groups=1):
    return L.Conv2D(f, k, strides=s, padding=pad, activation=act, dilation_rate=d, groups=groups)


def _dw(L, k, s=1, pad="same", act=None, m=1, d=1):
    return L.DepthwiseConv2D(k, strides=s, padding=pad, activation=act, depth_multiplier=m,
                             dilation_rate=d)


SPECS: list[tuple[str, tuple[int, ...], Builder, bool]] = [
    # CONV_2D
    ("conv3x3_s1_same_relu", (12, 12, 3), lambda L, x: _conv(L, 8, 3, act="relu")(x), False),
    ("conv3x3_s2_valid", (13, 11, 4), lambda L, x: _conv(L, 6, 3, 2, "valid")(x), False),
    ("conv5x3_s21_same_relu6", (16, 9, 2),
     lambda L, x: L.ReLU(6.0)(_conv(L, 5, (5, 3), (2, 1))(x)), False),
    ("conv3x3_dil2_same", (14, 14, 3), lambda L, x: _conv(L, 4, 3, d=2)(x), False),
    ("conv4x4_s2_same_even", (15, 15, 3), lambda L, x: _conv(L, 7, 4, 2)(x), False),
    ("conv1x1_chain_inplace", (8, 8, 16),
     lambda L, x: _conv(L, 12, 1, act="relu")(_conv(L, 16, 1, act="relu")(x)), False),
    ("conv1x1_grow", (6, 6, 8), lambda L, x: _conv(L, 24, 1)(_conv(L, 8, 1, act="relu")(x)), False),
    ("conv3x3_per_tensor", (10, 10, 3), lambda L, x: _conv(L, 8, 3, act="relu")(x), True),
    ("conv1x1_per_tensor", (7, 7, 8), lambda L, x: _conv(L, 8, 1)(_conv(L, 8, 1)(x)), True),
    ("conv1d_s2_same", (40, 3), lambda L, x: L.Conv1D(8, 5, strides=2, padding="same",
                                                      activation="relu")(x), False),
    ("conv1d_valid_dil", (32, 4), lambda L, x: L.Conv1D(6, 3, padding="valid",
                                                        dilation_rate=2)(x), False),
    # DEPTHWISE_CONV_2D (after a 1x1 conv so the input lives in the arena: in place)
    ("dw3x3_inplace_relu", (10, 6, 8),
     lambda L, x: _conv(L, 8, 1)(_dw(L, 3, act="relu")(_conv(L, 8, 1)(x))), False),
    ("dw5x5_inplace", (9, 7, 4), lambda L, x: _dw(L, 5)(_conv(L, 4, 1)(x)), False),
    ("dw3x1_inplace", (9, 5, 6), lambda L, x: _dw(L, (3, 1))(_conv(L, 6, 1)(x)), False),
    ("dw3x3_s2_mult2", (11, 11, 4), lambda L, x: _dw(L, 3, 2, m=2)(x), False),
    ("dw5x5_valid_relu6", (12, 10, 5), lambda L, x: L.ReLU(6.0)(_dw(L, 5, pad="valid")(x)), False),
    ("dw3x3_dil2", (12, 12, 4), lambda L, x: _dw(L, 3, d=2)(x), False),
    ("dw3x3_per_tensor", (8, 8, 6), lambda L, x: _dw(L, 3)(_conv(L, 6, 1)(x)), True),
    # pools
    ("avgpool2_s2_valid", (8, 10, 3), lambda L, x: L.AveragePooling2D(2)(x), False),
    ("avgpool3_s1_same", (7, 7, 4), lambda L, x: L.AveragePooling2D(3, 1, "same")(x), False),
    ("maxpool3_s2_same", (9, 9, 3), lambda L, x: L.MaxPooling2D(3, 2, "same")(x), False),
    ("maxpool2_valid", (8, 8, 5), lambda L, x: L.MaxPooling2D(2)(_conv(L, 5, 1)(x)), False),
    # FULLY_CONNECTED, SOFTMAX, reshape family
    ("dense_relu", (32,), lambda L, x: L.Dense(10, activation="relu")(x), False),
    ("dense_chain_softmax", (20,),
     lambda L, x: L.Softmax()(L.Dense(10)(L.Dense(24, activation="relu")(x))), False),
    ("dense_per_tensor", (24,), lambda L, x: L.Dense(9)(L.Dense(16, activation="relu")(x)), True),
    ("dense_batched_rows", (4, 8), lambda L, x: L.Dense(6)(x), False),
    ("flatten_dense", (6, 5, 2),
     lambda L, x: L.Dense(7)(L.Flatten()(_conv(L, 2, 1)(x))), False),
    ("softmax_rows", (3, 5), lambda L, x: L.Softmax()(L.Dense(5)(x)), False),
    # 16 elements or more: the exps come from a table (ekrt_softmax_table)
    ("softmax_table_wide", (20,), lambda L, x: L.Softmax()(L.Dense(40)(x)), False),
    ("softmax_table_rows", (4, 6), lambda L, x: L.Softmax()(L.Dense(8)(x)), False),
    # elementwise
    ("add_residual_relu", (8, 8, 6),
     lambda L, x: L.ReLU()(L.Add()([x, _conv(L, 6, 3)(x)])), False),
    ("add_broadcast", (6, 6, 4),
     lambda L, x: L.Add()([_conv(L, 4, 1)(x), L.Reshape((1, 1, 4))(L.Dense(4)(L.Flatten()(x)))]),
     False),
    ("mul_sigmoid_gate", (6, 6, 4),
     lambda L, x: L.Multiply()([x, L.Activation("sigmoid")(_conv(L, 4, 1)(x))]), False),
    ("logistic", (16,), lambda L, x: L.Activation("sigmoid")(L.Dense(12)(x)), False),
    ("tanh", (16,), lambda L, x: L.Activation("tanh")(L.Dense(12)(x)), False),
    ("concat_channels_relu", (6, 6, 3),
     lambda L, x: L.ReLU()(L.Concatenate()([_conv(L, 4, 1)(x), _conv(L, 5, 3)(x)])), False),
    ("concat_relu6", (6, 6, 3),
     lambda L, x: L.ReLU(6.0)(L.Concatenate()([_conv(L, 2, 1)(x), _conv(L, 3, 1)(x)])), False),
    ("zeropad_conv", (7, 7, 3),
     lambda L, x: _conv(L, 4, 3, pad="valid")(L.ZeroPadding2D(((1, 2), (2, 0)))(x)), False),
]

SPECS += [
    ("global_avgpool_mean", (5, 4, 8),
     lambda L, x: L.GlobalAveragePooling2D()(_conv(L, 8, 1, act="relu")(x)), False),
    ("mean_keepdims_dense", (6, 6, 3),
     lambda L, x: L.Dense(4)(L.Flatten()(L.GlobalAveragePooling2D(keepdims=True)(x))), False),
    ("global_avgpool1d", (20, 6), lambda L, x: L.GlobalAveragePooling1D()(x), False),
]

SPECS += [
    ("leaky_relu", (16,), lambda L, x: L.LeakyReLU(0.2)(L.Dense(8)(x)), False),
    ("leaky_relu_conv", (6, 6, 3), lambda L, x: L.LeakyReLU(0.1)(_conv(L, 5, 3)(x)), False),
    ("concat_input_requant", (12,),
     lambda L, x: L.Dense(5)(L.Concatenate()([x, L.Dense(6, activation="relu")(x) * 4.0])), False),
    ("rescaling_const", (6, 6, 3),
     lambda L, x: _conv(L, 4, 3)(L.Rescaling(2.0, offset=0.5)(x)), False),
    ("two_concats_requant", (10,),
     lambda L, x: (lambda d: L.Dense(4)(L.Concatenate()([
         L.Concatenate()([d, L.Dense(5)(x) * 8.0]),
         L.Concatenate()([d, L.Dense(5)(x) * 0.05])])))(L.Dense(6)(x)), False),
    ("input_two_concats", (10,),
     lambda L, x: L.Dense(4)(L.Concatenate()([
         L.Concatenate()([x, L.Dense(5)(x) * 8.0]),
         L.Concatenate()([x, L.Dense(5)(x) * 0.05])])), False),
    ("grouped_conv", (8, 8, 4), lambda L, x: _conv(L, 6, 3, groups=2)(x), False),
    ("sub_two_branches", (6, 6, 4),
     lambda L, x: L.Subtract()([_conv(L, 4, 1)(x), _conv(L, 4, 3)(x)]), False),
]

SPECS += [
    ("hard_swish", (16,), lambda L, x: L.Activation("hard_swish")(L.Dense(8)(x)), False),
    ("hard_swish_conv", (6, 6, 3),
     lambda L, x: _conv(L, 4, 1)(L.Activation("hard_swish")(_conv(L, 6, 3)(x))), False),
]

UNSUPPORTED: list[tuple[str, tuple[int, ...], Builder, bool]] = [
    ("gelu_unsupported", (16,), lambda L, x: L.Activation("gelu")(L.Dense(8)(x)), False),
]


# Integer models with float32 input and output, as TF's converter makes them by default (no
# inference_input_type): QUANTIZE in, DEQUANTIZE out. Built with build(spec, ..., float_io=True).
FLOAT_IO: list[tuple[str, tuple[int, ...], Builder, bool]] = [
    ("float_io_dense_softmax", (20,),
     lambda L, x: L.Dense(6, activation="softmax")(L.Dense(12, activation="relu")(x)), False),
    ("float_io_conv", (9, 9, 3), lambda L, x: _conv(L, 5, 3, 2, act="relu")(x), False),
    ("float_io_autoencoder", (32,),
     lambda L, x: L.Dense(32)(L.Dense(8, activation="relu")(x)), False),
]


# Models of several inputs and outputs: (name, input shapes, builder(layers, inputs) -> outputs).
MultiBuilder = Callable[[Any, list[Any]], list[Any]]
MULTI_IO: list[tuple[str, tuple[tuple[int, ...], ...], MultiBuilder]] = [
    # An image branch and scalar features joined; a class head and a regression head.
    ("two_in_two_out", ((8, 8, 2), (5,)),
     lambda L, xs: (lambda j: [L.Dense(3, activation="softmax")(j), L.Dense(1)(j)])(
         L.Concatenate()([L.GlobalAveragePooling2D()(_conv(L, 6, 3, act="relu")(xs[0])),
                          L.Dense(4, activation="relu")(xs[1])]))),
    # Two inputs of odd sizes (the block pads the second to a word), added after their own dense.
    ("two_odd_inputs_add", ((7,), (3,)),
     lambda L, xs: [L.Add()([L.Dense(5)(xs[0]), L.Dense(5)(xs[1])])]),
    # One input, two outputs of odd sizes (the second output padded in the block).
    ("one_in_two_odd_outputs", ((10,),),
     lambda L, xs: (lambda h: [L.Dense(3)(h), L.Dense(5, activation="relu")(h)])(L.Dense(8)(xs[0]))),
]


def build_multi(spec: tuple[str, tuple[tuple[int, ...], ...], MultiBuilder], cache_dir: Path) -> bytes:
    """A MULTI_IO model converted to int8 with int8 inputs and outputs (cached like build)."""
    import tempfile

    import keras
    import tensorflow as tf

    name, shapes, builder = spec
    try:
        src = inspect.getsource(builder)
    except OSError:
        src = name
    key = hashlib.sha256(f"{name}|{shapes}|{src}|{tf.__version__}".encode()).hexdigest()[:16]
    path = cache_dir / f"{name}-{key}.tflite"
    if path.exists():
        return path.read_bytes()
    seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % (2**31)
    keras.utils.set_random_seed(seed)
    inputs = [keras.Input(s, name=f"in{k}") for k, s in enumerate(shapes)]
    model = keras.Model(inputs, builder(keras.layers, inputs))
    rng = np.random.default_rng(seed)
    calib = [rng.normal(0, 1, (64, *s)).astype(np.float32) for s in shapes]

    def rep():
        for i in range(64):
            yield [c[i:i + 1] for c in calib]

    with tempfile.TemporaryDirectory() as d:
        specs = [tf.TensorSpec((1, *s), tf.float32, name=f"in{k}") for k, s in enumerate(shapes)]
        model.export(d, format="tf_saved_model", verbose=False, input_signature=[specs])
        conv = tf.lite.TFLiteConverter.from_saved_model(d)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        buf = bytes(conv.convert())
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf)
    tmp.rename(path)
    return buf


def patch_opcode(buf: bytes, old: str, new: str) -> bytes:
    """Change every operator code `old` to `new` in a .tflite flatbuffer (same options
    layout needed), e.g. RELU -> QUANTIZE to get an int8 -> int8 requantize op, which the
    converter does not emit on its own."""
    import struct

    import tflite

    old_code = getattr(tflite.BuiltinOperator, old)
    new_code = getattr(tflite.BuiltinOperator, new)
    b = bytearray(buf)
    model = tflite.Model.GetRootAs(b, 0)
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        if max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()) != old_code:
            continue
        tab = oc._tab
        off = tab.Offset(4)  # deprecated_builtin_code (int8)
        if off:
            b[tab.Pos + off] = min(new_code, 127)
        off = tab.Offset(10)  # builtin_code (int32)
        if not off:
            raise ValueError("operator code has no builtin_code field")
        struct.pack_into("<i", b, tab.Pos + off, new_code)
    return bytes(b)


def _spec_key(name: str, shape: tuple[int, ...], builder: Builder, per_tensor: bool,
              float_io: bool = False) -> str:
    import tensorflow as tf

    try:
        src = inspect.getsource(builder)
    except OSError:
        src = name
    raw = f"{name}|{shape}|{per_tensor}|{float_io}|{src}|{tf.__version__}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def _convert(model: Any, calib: np.ndarray, per_tensor: bool, float_io: bool = False) -> bytes:
    if not per_tensor and not float_io:
        from edgekit.model.quantize import convert_int8

        return convert_int8(model, calib, where="sweep model")
    import tempfile

    import tensorflow as tf

    def rep():
        for s in calib:
            yield [s[None]]

    with tempfile.TemporaryDirectory() as d:
        model.export(d, format="tf_saved_model", verbose=False,
                     input_signature=[tf.TensorSpec((1,) + calib.shape[1:], tf.float32)])
        conv = tf.lite.TFLiteConverter.from_saved_model(d)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if not float_io:
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
        conv._experimental_disable_per_channel = per_tensor
        return bytes(conv.convert())


def build(spec: tuple[str, tuple[int, ...], Builder, bool], cache_dir: Path,
          float_io: bool = False) -> bytes:
    name, shape, builder, per_tensor = spec
    path = cache_dir / f"{name}-{_spec_key(*spec, float_io)}.tflite"
    if path.exists():
        return path.read_bytes()
    import keras

    seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    keras.utils.set_random_seed(seed % (2**31))
    inp = keras.Input(shape)
    model = keras.Model(inp, builder(keras.layers, inp))
    # Non-trivial biases so folded-bias and rounding paths are exercised.
    for layer in model.layers:
        ws = layer.get_weights()
        if len(ws) == 2:
            layer.set_weights([ws[0], np.random.default_rng(seed).normal(0, 0.3, ws[1].shape)
                               .astype(np.float32)])
    calib = np.random.default_rng(seed).normal(0, 1, (64,) + shape).astype(np.float32)
    buf = _convert(model, calib, per_tensor, float_io)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf)
    tmp.rename(path)
    return buf
