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
    # 3x3 / 5x5 in place (row-buffered: between two 1x1 convs, its input dies there and its
    # output is in the arena), odd width, out_c < in_c
    ("conv3x3_inplace_odd", (9, 7, 6),
     lambda L, x: _conv(L, 3, 1)(_conv(L, 5, 3, act="relu")(_conv(L, 6, 1)(x))), False),
    ("conv5x5_inplace_pad2", (8, 9, 4), lambda L, x: _conv(L, 3, 1)(_conv(L, 4, 5)(_conv(L, 4, 1)(x))), False),
    # in_c % 4 == 0 and out_c % 4 == 0: the DSP path's im2col straight into the widened columns
    ("conv3x3_s2_widened", (9, 7, 8), lambda L, x: _conv(L, 12, 3, 2, act="relu")(x), False),
    ("conv3x3_dil2_widened", (10, 9, 4), lambda L, x: _conv(L, 8, 3, d=2)(_conv(L, 4, 1)(x)), False),
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
    # ekrt_dwconv_p (paired taps, out_c % 4 == 0): more channels than one accumulator chunk,
    # stride 2 with padding, an even tap count, per-tensor (packed requantization off)
    ("dwp3x3_s2_c36", (11, 9, 36), lambda L, x: _dw(L, 3, 2, act="relu")(x), False),
    ("dwp2x2_inplace_c8", (7, 7, 8), lambda L, x: _dw(L, 2)(_conv(L, 8, 1)(x)), False),
    ("dwp3x3_per_tensor_c12", (6, 5, 12), lambda L, x: _dw(L, 3)(_conv(L, 12, 1)(x)), True),
    # its 3x3 stride-1 plane path (DSP) along rows: odd width, valid padding; in place
    ("dwp3x3_wide_valid_c8", (5, 11, 8), lambda L, x: _dw(L, 3, pad="valid")(_conv(L, 8, 1)(x)), False),
    ("dwp3x3_wide_inplace_c8", (4, 9, 8), lambda L, x: _conv(L, 8, 1)(_dw(L, 3)(_conv(L, 8, 1)(x))), False),
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
    # 1024 elements or more: ekrt_add_lut
    ("add_residual_lut", (16, 12, 8),
     lambda L, x: L.ReLU()(L.Add()([_conv(L, 8, 1)(x), _conv(L, 8, 3)(x)])), False),
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

def _tf() -> Any:
    import tensorflow as tf

    return tf


def _lambda(L, fn):
    """A Keras Lambda over TensorFlow ops (resize variants and argmax Keras layers do not emit)."""
    return L.Lambda(fn)


# The ops of Keras 3's common layers (edgekit/codegen/lower_select.py, lower_pointwise.py,
# lower_resample.py): odd sizes, broadcasts, negative axes, unequal splits, every resize mode.
SPECS += [
    # TILE (no TFLM kernel: the converted TILE-free twin of quantize is tested elsewhere)
    # TRANSPOSE
    ("permute_hw", (5, 6, 3), lambda L, x: L.Permute((2, 1, 3))(_conv(L, 4, 1)(x)), False),
    ("permute_1d", (7, 4), lambda L, x: L.Dense(3)(L.Permute((2, 1))(x)), False),
    ("transpose_chw", (3, 5, 4), lambda L, x: L.Permute((3, 1, 2))(x), False),
    # RESIZE_NEAREST_NEIGHBOR
    ("resize_nearest_up_odd", (5, 6, 3),
     lambda L, x: L.Resizing(9, 11, interpolation="nearest")(_conv(L, 3, 1)(x)), False),
    ("resize_nearest_down", (9, 7, 2), lambda L, x: L.Resizing(4, 3, interpolation="nearest")(x), False),
    ("resize_nearest_align_corners", (5, 4, 3),
     lambda L, x: _lambda(L, lambda t: _tf().compat.v1.image.resize_nearest_neighbor(
         t, (9, 7), align_corners=True))(x), False),
    ("resize_nearest_legacy", (5, 4, 3),
     lambda L, x: _lambda(L, lambda t: _tf().compat.v1.image.resize_nearest_neighbor(
         t, (8, 11), align_corners=False))(x), False),
    # RESIZE_BILINEAR
    ("resize_bilinear_up_odd", (5, 6, 3), lambda L, x: L.Resizing(9, 11)(_conv(L, 3, 1)(x)), False),
    ("upsampling_bilinear", (4, 5, 2), lambda L, x: L.UpSampling2D((2, 3), interpolation="bilinear")(x), False),
    ("resize_bilinear_down", (9, 10, 2), lambda L, x: L.Resizing(4, 3)(x), False),
    ("resize_bilinear_align_corners", (5, 4, 3),
     lambda L, x: _lambda(L, lambda t: _tf().compat.v1.image.resize_bilinear(
         t, (9, 7), align_corners=True))(x), False),
    ("resize_bilinear_legacy", (5, 4, 3),
     lambda L, x: _lambda(L, lambda t: _tf().compat.v1.image.resize_bilinear(
         t, (8, 11), align_corners=False))(x), False),
    # TRANSPOSE_CONV
    ("conv2d_transpose_s2_same", (5, 6, 3), lambda L, x: L.Conv2DTranspose(4, 3, strides=2, padding="same")(x), False),
    ("conv2d_transpose_valid_s21", (4, 5, 3),
     lambda L, x: L.Conv2DTranspose(5, (4, 3), strides=(2, 1), padding="valid", activation="relu")(x), False),
    ("conv2d_transpose_s3_k2", (3, 4, 2), lambda L, x: L.Conv2DTranspose(3, 2, strides=3, padding="same")(x), False),
    ("conv2d_transpose_per_tensor", (4, 4, 3),
     lambda L, x: L.Conv2DTranspose(4, 3, strides=2, padding="same")(x), True),
    ("conv1d_transpose", (7, 3), lambda L, x: L.Conv1DTranspose(4, 5, strides=2, padding="same")(x), False),
    # PRELU
    ("prelu_conv", (5, 6, 3), lambda L, x: L.PReLU(alpha_initializer=_alpha)(_conv(L, 4, 3)(x)), False),
    ("prelu_shared_axes", (5, 6, 3),
     lambda L, x: L.PReLU(alpha_initializer=_alpha, shared_axes=[1, 2])(_conv(L, 4, 1)(x)), False),
    ("prelu_dense", (12,), lambda L, x: L.PReLU(alpha_initializer=_alpha)(L.Dense(9)(x)), False),
    # ELU (integer through quantize's float-island rewrite)
    ("elu_dense", (16,), lambda L, x: L.ELU()(L.Dense(8)(x)), False),
    ("elu_conv_alpha", (6, 6, 3), lambda L, x: L.Activation("elu")(_conv(L, 5, 3)(x)), False),
    # ARG_MAX / ARG_MIN (int32 output)
    ("argmax_classes", (16,),
     lambda L, x: _lambda(L, lambda t: _tf().math.argmax(t, axis=-1, output_type="int32"))(L.Dense(10)(x)), False),
    ("argmin_axis1", (4, 6),
     lambda L, x: _lambda(L, lambda t: _tf().math.argmin(t, axis=1, output_type="int32"))(L.Dense(5)(x)), False),
    # keras.ops.argmax converts through quantize's plain_argminmax (edgekit/model/keras_plain.py)
    ("keras_ops_argmax", (6, 4), lambda L, x: _ops().argmax(_conv1d(L, 5)(x), axis=-1), False),
    ("keras_ops_argmin_keepdims", (12,), lambda L, x: _ops().argmin(L.Dense(7)(x), axis=-1, keepdims=True), False),
    # SPLIT / SPLIT_V
    ("split_equal", (16,), lambda L, x: L.Multiply()(_split(L.Dense(8)(x), 2)), False),
    ("split_unequal_neg_axis", (5, 6, 3),
     lambda L, x: L.Concatenate()([t[..., :1] for t in _split(_conv(L, 7, 1)(x), [2, 4, 1])]), False),
    # MAXIMUM / MINIMUM
    ("maximum_layer", (12,), lambda L, x: L.Maximum()([L.Dense(8)(x), L.Dense(8)(x)]), False),
    ("minimum_broadcast", (5, 6, 3),
     lambda L, x: L.Minimum()([_conv(L, 4, 1)(x), L.Reshape((1, 1, 4))(L.Dense(4)(L.Flatten()(x)))]), False),
    ("relu_max_value", (16,), lambda L, x: L.ReLU(max_value=2.0)(L.Dense(8)(x)), False),
    # REDUCE_MAX / REDUCE_MIN
    ("global_maxpool2d", (5, 6, 4), lambda L, x: L.GlobalMaxPooling2D()(_conv(L, 4, 1)(x)), False),
    ("global_maxpool1d", (7, 3), lambda L, x: L.GlobalMaxPooling1D()(x), False),
    ("reduce_min_axis", (6, 4), lambda L, x: _ops().min(L.Dense(5)(x), axis=-2), False),
    # SUM, ABS
    ("reduce_sum_axis", (6, 4), lambda L, x: _ops().sum(L.Dense(5)(x), axis=1), False),
    ("reduce_sum_keepdims", (4, 5, 3), lambda L, x: _ops().sum(_conv(L, 4, 1)(x), axis=(1, 2), keepdims=True), False),
    ("abs_dense", (12,), lambda L, x: _ops().abs(L.Dense(8)(x)), False),
    ("abs_then_dense", (12,), lambda L, x: L.Dense(4)(_ops().abs(L.Dense(6)(x)) * 0.5), False),
    # SQUARED_DIFFERENCE
    ("squared_difference", (10,), lambda L, x: _ops().square(L.Dense(6)(x) - L.Dense(6)(x)), False),
    ("squared_difference_broadcast", (5, 4),
     lambda L, x: _ops().square(L.Dense(3)(x) - _ops().mean(L.Dense(3)(x), axis=1, keepdims=True)), False),
]


# Many of the new ops in one model: the cross-compiled (Cortex-M4) path runs it on QEMU.
KERAS_LAYERS_MIX = (
    "keras_layers_mix", (8, 8, 3),
    lambda L, x: L.Dense(6)(L.GlobalMaxPooling2D()(L.Permute((2, 1, 3))(L.Maximum()(_split(
        L.Resizing(7, 9, interpolation="nearest")(L.Resizing(10, 10)(L.ELU()(
            L.Conv2DTranspose(4, 3, strides=2, padding="same")(
                L.PReLU(alpha_initializer=_alpha, shared_axes=[1, 2])(_conv(L, 6, 3, 2)(x)))))), 2))))),
    False)
SPECS.append(KERAS_LAYERS_MIX)

# TILE (UpSampling1D/2D nearest, RepeatVector): TFLM has no TILE kernel, so the reference is
# TFLite's (tests/codegen/test_keras_layer_ops.py); models of byte copies only, which any
# TFLite kernel computes exactly (its conv and FC kernels differ from TFLM's).
TILE_SPECS: list[tuple[str, tuple[int, ...], Builder, bool]] = [
    ("upsampling2d_nearest", (5, 6, 3), lambda L, x: L.UpSampling2D(2)(x), False),
    ("upsampling2d_nearest_23", (3, 4, 2), lambda L, x: L.UpSampling2D((2, 3))(x), False),
    ("upsampling1d", (7, 3), lambda L, x: L.UpSampling1D(3)(x), False),
    ("repeat_vector", (6,), lambda L, x: L.RepeatVector(3)(x), False),
]


def _conv1d(L, f):
    return L.Conv1D(f, 3, padding="same")


def _ops() -> Any:
    import keras

    return keras.ops


def _split(t: Any, parts: Any) -> list[Any]:
    return list(_ops().split(t, parts if isinstance(parts, int) else list(np.cumsum(parts)[:-1]), axis=-1))


def _alpha(shape: Any, dtype: Any = None) -> Any:
    """PReLU slopes that differ per element (the default, zeros, tests nothing)."""
    return np.random.default_rng(7).uniform(-0.5, 0.8, shape).astype("float32")


UNSUPPORTED: list[tuple[str, tuple[int, ...], Builder, bool]] = [
    ("softplus_unsupported", (16,), lambda L, x: L.Activation("softplus")(L.Dense(8)(x)), False),
]


# Integer models with float32 input and output, as TF's converter makes them by default (no
# inference_input_type): QUANTIZE in, DEQUANTIZE out. Built with build(spec, ..., float_io=True).
# FULLY_CONNECTED layers of 4,096 weights or more: what generate --optimize speed gives int16 weights
# (ekrt_fully_connected_h): odd depths and row counts (the kernel's tails), per-tensor, no bias,
# batched rows, a chain.
FC_SPEED: list[tuple[str, tuple[int, ...], Builder, bool]] = [
    ("fc_speed_odd_relu", (67,), lambda L, x: L.Dense(71, activation="relu")(x), False),
    ("fc_speed_per_tensor", (66,), lambda L, x: L.Dense(65)(x), True),
    ("fc_speed_no_bias", (64,), lambda L, x: L.Dense(66, use_bias=False)(x), False),
    ("fc_speed_rows", (3, 65), lambda L, x: L.Dense(70, activation="relu")(x), False),
    ("fc_speed_chain", (90,), lambda L, x: L.Dense(49)(L.Dense(101, activation="relu")(x)), False),
]

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
