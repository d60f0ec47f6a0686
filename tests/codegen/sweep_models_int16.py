"""Small Keras models converted in TF's 16x8 mode (int16 activations, int8 weights, int64
biases; int16 input and output) for the int16 op sweeps of edgekit-rt (lower_int16.py).

Each spec is (name, input shape, builder(keras.layers, inputs) -> outputs). A few ops per
model keeps conversions (one to two seconds each) few; converted models are cached on disk
keyed by the spec's source and the TF version, as sweep_models.py does.
"""

from __future__ import annotations

import hashlib
import inspect
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from sweep_models import Builder


def _conv(L, f, k, s=1, pad="same", act=None, d=1, groups=1):
    return L.Conv2D(f, k, strides=s, padding=pad, activation=act, dilation_rate=d, groups=groups)


def _conv1(L, x):
    return L.Conv1D(x.shape[-1], 1)(x)


def _residual(L, x, op):
    """op(x, conv(x)) for a two-input elementwise Keras layer."""
    return op()([x, _conv(L, x.shape[-1], 3)(x)])


def _sum(L, x):
    import keras

    return L.Lambda(lambda t: keras.ops.sum(t, axis=1, keepdims=True))(x)


SPECS16: list[tuple[str, tuple[int, ...], Builder]] = [
    # CONV_2D: fused RELU, stride 2 valid, dilation, grouped; LEAKY_RELU after it
    ("conv_relu_leaky", (10, 12, 3),
     lambda L, x: L.LeakyReLU(0.3)(_conv(L, 8, 3, act="relu")(x))),
    ("conv_s2_valid_dil", (13, 11, 4),
     lambda L, x: _conv(L, 6, 3, d=2)(_conv(L, 8, 3, 2, "valid")(x))),
    ("conv_grouped_1d", (40, 4),
     lambda L, x: L.Conv1D(8, 5, strides=2, padding="same", groups=2)(x)),
    # DEPTHWISE_CONV_2D with a depth multiplier, RELU6
    ("dwconv_mult2_relu6", (9, 9, 4),
     lambda L, x: L.ReLU(6.0)(L.DepthwiseConv2D(3, 2, "same", depth_multiplier=2)(x))),
    # FULLY_CONNECTED on rows and after a flatten (RESHAPE)
    ("dense_rows_flat", (5, 6),
     lambda L, x: L.Dense(7)(L.Flatten()(L.Dense(9, activation="relu")(x)))),
    # ADD / SUB / MUL: residuals and a broadcast
    ("add_sub_mul", (6, 8, 4),
     lambda L, x: L.Multiply()([_residual(L, _residual(L, x, L.Add), L.Subtract), x])),
    ("add_broadcast", (6, 8, 4),
     lambda L, x: L.Add()([x, L.GlobalAveragePooling2D(keepdims=True)(_conv(L, 4, 1)(x))])),
    # PAD (ZeroPadding), STRIDED_SLICE (Cropping via a slice), CONCATENATION
    ("pad_slice_concat", (8, 10, 3),
     lambda L, x: L.Concatenate()([L.ZeroPadding2D(((1, 2), (0, 1)))(x)[:, 1:9, ::2, :],
                                   _conv(L, 5, 3, pad="same")(L.ZeroPadding2D(((1, 2), (0, 1)))(x))[:, 1:9, ::2, :]])),
    # RELU/RELU6 where the converter cannot fuse them (after a reshape, a MEAN), SUM (ops.sum)
    ("relu_relu6_sum_mean", (6, 8),
     lambda L, x: L.Concatenate(axis=1)([
         L.ReLU()(L.Reshape((8, 6))(x)), _sum(L, L.Reshape((8, 6))(_conv1(L, x))),
         L.Reshape((1, 6))(L.ReLU(6.0)(L.GlobalAveragePooling1D()(L.Reshape((8, 6))(x))))])),
    # LOGISTIC/TANH (sigmoid, tanh activations; swish's LOGISTIC + MUL)
    ("sigmoid_tanh_swish", (24,),
     lambda L, x: L.Concatenate()([L.Activation("sigmoid")(L.Dense(8)(x)), L.Activation("tanh")(L.Dense(8)(x)),
                                   L.Activation("silu")(L.Dense(8)(x))])),
    # SOFTMAX over rows (a 2-D input) and a wide one
    ("softmax_rows_wide", (4, 10),
     lambda L, x: L.Concatenate(axis=1)([L.Softmax()(L.Dense(5)(x)),
                                         L.Flatten()(L.Softmax()(L.Dense(40)(x)))[:, None, :5]])),
    # pools
    ("pools", (10, 10, 4),
     lambda L, x: L.Concatenate()([L.MaxPooling2D(2)(x), L.AveragePooling2D(3, 2, "same")(x)[:, :5, :5, :]])),
    # TRANSPOSE_CONV (Conv2DTranspose; Conv1DTranspose)
    ("conv_transpose", (5, 6, 4),
     lambda L, x: L.Conv2DTranspose(6, (3, 4), strides=(1, 2), padding="valid")(x)),
    ("conv_transpose_same_s2", (4, 5, 3),
     lambda L, x: L.Conv2DTranspose(4, 3, strides=2, padding="same")(L.LeakyReLU(0.2)(x))),
]


def _mix(L, x):
    """Most int16 ops in one model (the virtual board's one firmware image)."""
    a = L.LeakyReLU(0.3)(_conv(L, 8, 3)(x))
    b = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    c = L.Subtract()([L.Add()([a, b]), L.Multiply()([a, b])])
    d = L.MaxPooling2D(2)(c)
    e = L.AveragePooling2D(2)(L.ZeroPadding2D(1)(c))[:, :4, 1:, :]
    g = L.Conv2DTranspose(4, 3, strides=2, padding="same")(L.Concatenate()([d, e]))
    return L.Activation("sigmoid")(L.Dense(10)(L.Activation("tanh")(L.ReLU()(L.Flatten()(g)))))


# The virtual board's spec (tests/codegen/test_ekrt_int16_qemu.py), swept on the host too.
MIX = ("int16_mix", (8, 8, 4), _mix)
SPECS16.append(MIX)


def _key(name: str, shape: tuple[int, ...], builder: Builder) -> str:
    import tensorflow as tf

    try:
        src = inspect.getsource(builder)
    except OSError:
        src = name
    return hashlib.sha256(f"{name}|{shape}|{src}|{tf.__version__}|16x8".encode()).hexdigest()[:16]


def convert_16x8(model: Any, calib: np.ndarray) -> bytes:
    """A Keras model in TF's 16x8 mode with int16 input and output (a representative dataset)."""
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
        conv.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int16
        return bytes(conv.convert())


def build16(spec: tuple[str, tuple[int, ...], Builder], cache_dir: Path) -> bytes:
    """The converted 16x8 model of `spec` (cached)."""
    name, shape, builder = spec
    path = cache_dir / f"{name}-{_key(*spec)}.tflite"
    if path.exists():
        return path.read_bytes()
    import keras

    seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    keras.utils.set_random_seed(seed % (2**31))
    inp = keras.Input(shape)
    model = keras.Model(inp, builder(keras.layers, inp))
    # Non-trivial biases so the int64 bias and rounding paths are exercised.
    for layer in model.layers:
        ws = layer.get_weights()
        if len(ws) == 2:
            layer.set_weights([ws[0], np.random.default_rng(seed).normal(0, 0.3, ws[1].shape)
                               .astype(np.float32)])
    calib = np.random.default_rng(seed).normal(0, 1, (64,) + shape).astype(np.float32)
    buf = convert_16x8(model, calib)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf)
    tmp.rename(path)
    return buf


def int16_inputs(n_in: int, n_random: int, seed: int = 0) -> np.ndarray:
    """int16 extremes (-32768, 32767, 0, alternating) plus random vectors over the whole range
    and over a tenth of it (where the calibration put most values)."""
    rng = np.random.default_rng(seed)
    fixed = [np.full(n_in, -32768), np.full(n_in, 32767), np.zeros(n_in), np.resize([-32768, 32767], n_in)]
    rand = rng.integers(-32768, 32768, size=(n_random // 2, n_in))
    small = rng.integers(-3277, 3277, size=(n_random - n_random // 2, n_in))
    return np.concatenate([np.stack(fixed), rand, small]).astype(np.int16)
