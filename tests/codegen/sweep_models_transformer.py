"""Small Keras models of the ops a transformer block converts to (BATCH_MATMUL, SELECT, GELU,
RSQRT, LayerNormalization's float NEG), converted to int8 TFLite for test_transformer_ops.py.

Each spec is (name, input shape, builder(keras, x) -> y, calibration(rng, n, shape) -> float
samples). GELU and RSQRT specs feed the model input straight into the op so that one input row
of -128..127 covers its whole table; their calibrations give several scales and zero points.
Converted models are cached on disk like sweep_models.build.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Calib = Callable[[np.random.Generator, int, tuple[int, ...]], np.ndarray]
Builder = Callable[[Any, Any], Any]
Spec = tuple[str, tuple[int, ...], Builder, Calib]


def _normal(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    return rng.normal(0, 1, (n, *shape))


def _uniform(lo: float, hi: float) -> Calib:
    return lambda rng, n, shape: rng.uniform(lo, hi, (n, *shape))


def _gelu(approximate: bool) -> Builder:
    def build(keras: Any, x: Any) -> Any:
        return keras.layers.Activation(lambda t: keras.activations.gelu(t, approximate=approximate))(x)
    return build


def _mha(causal: bool) -> Builder:
    def build(keras: Any, x: Any) -> Any:
        return keras.layers.MultiHeadAttention(2, 8)(x, x, use_causal_mask=causal)
    return build


def _qk(lhs_t: bool, rhs_t: bool) -> Builder:
    """A product of two Dense projections of one input; a transposed operand becomes adj_x/adj_y."""
    def build(keras: Any, x: Any) -> Any:
        ops, L = keras.ops, keras.layers
        q, k = L.Dense(6)(x), L.Dense(6)(x)
        return ops.matmul(ops.transpose(q, (0, 2, 1)) if lhs_t else q,
                          ops.transpose(k, (0, 2, 1)) if rhs_t else k)
    return build


def _broadcast_batch(keras: Any, x: Any) -> Any:
    """(1, 2, 5, 6) x (1, 1, 6, 5): the rhs batch dimension of 1 broadcast."""
    ops, L = keras.ops, keras.layers
    return ops.matmul(L.Dense(6)(x), ops.transpose(L.Dense(6)(x[:, :1]), (0, 1, 3, 2)))


def _attention(causal: bool) -> Builder:
    def build(keras: Any, x: Any) -> Any:
        L = keras.layers
        return L.Attention()([L.Dense(6)(x), L.Dense(6)(x)], use_causal_mask=causal)
    return build


def _ln(rms: bool) -> Builder:
    """LayerNormalization; rms_scaling=True is Keras' deprecated RMS form (no NEG island)."""
    def build(keras: Any, x: Any) -> Any:
        L = keras.layers
        return L.LayerNormalization(rms_scaling=rms)(L.Dense(16)(x))
    return build


def _ln_integer(rms: bool) -> Builder:
    """LayerNormalization (RMS: RMSNormalization) written with ops that all convert to int8:
    x - mean (SUB, not the converter's float NEG), mean(x * x) (MUL, not a float SQUARE). The
    same function as the layer (float outputs within 1e-6): the form a conversion twin of the
    normalizations would take."""
    def build(keras: Any, x: Any) -> Any:
        ops = keras.ops
        h = keras.layers.Dense(16)(x)
        gamma = np.linspace(0.6, 1.4, 16).astype(np.float32)
        if rms:
            return h * ops.rsqrt(ops.mean(h * h, axis=-1, keepdims=True) + 1e-6) * gamma
        c = h - ops.mean(h, axis=-1, keepdims=True)
        var = ops.mean(ops.square(h - ops.mean(h, axis=-1, keepdims=True)), axis=-1, keepdims=True)
        return c * ops.rsqrt(var + 1e-3) * gamma + np.linspace(-0.3, 0.3, 16).astype(np.float32)
    return build


def _rsqrt(keras: Any, x: Any) -> Any:
    return keras.layers.Lambda(lambda t: keras.ops.rsqrt(t))(x)


# Against LiteRT, GELU alone: LiteRT's other reference kernels (FULLY_CONNECTED, BATCH_MATMUL,
# SOFTMAX, MEAN, RSQRT) differ from TFLM's by an LSB on a few outputs, so a Dense(gelu) model
# has no exact reference (TFLM lacks GELU).
GELU_SPECS: list[Spec] = [
    ("gelu_exact_normal", (256,), _gelu(False), _normal),
    ("gelu_exact_wide", (256,), _gelu(False), _uniform(-9.0, 5.0)),
    ("gelu_exact_positive", (256,), _gelu(False), _uniform(0.2, 3.0)),
    ("gelu_approx_normal", (256,), _gelu(True), _normal),
    ("gelu_approx_narrow", (256,), _gelu(True), _uniform(-0.7, 0.4)),
    ("gelu_approx_negative", (256,), _gelu(True), _uniform(-6.0, -0.5)),
]

# Checked against TFLM. RSQRT specs have positive calibrations (zero point -128): every input
# code is valid (TFLM refuses x < zero point).
TFLM_SPECS: list[Spec] = [
    ("mha_self", (8, 16), _mha(False), _normal),
    ("mha_causal", (6, 16), _mha(True), _normal),       # SELECT_V2 with the constant mask
    ("matmul_adj_y", (5, 7), _qk(False, True), _normal),
    ("matmul_adj_x", (5, 7), _qk(True, False), _normal),
    ("matmul_broadcast_batch", (2, 5, 7), _broadcast_batch, _normal),
    ("matmul_self", (5, 7), lambda keras, x: keras.layers.Attention()([x, x]), _normal),  # one tensor twice
    ("attention_dot", (5, 7), _attention(False), _normal),  # scores @ values: no adj
    ("layernorm", (6, 16), _ln(False), _normal),
    ("rmsnorm", (6, 16), _ln(True), _normal),
    ("rmsnorm_layer", (6, 16), lambda keras, x: keras.layers.RMSNormalization()(keras.layers.Dense(16)(x)), _normal),
    ("unitnorm", (6, 16), lambda keras, x: keras.layers.UnitNormalization()(keras.layers.Dense(16)(x)), _normal),
    ("layernorm_integer", (6, 16), _ln_integer(False), _normal),
    ("rmsnorm_integer", (6, 16), _ln_integer(True), _normal),
    ("rsqrt_unit", (256,), _rsqrt, _uniform(0.05, 4.0)),
    ("rsqrt_small", (256,), _rsqrt, _uniform(0.0, 0.02)),
    ("rsqrt_large", (256,), _rsqrt, _uniform(1.0, 900.0)),
]

# Keras Attention(use_causal_mask=True) emits SELECT (v1), which TFLM lacks: checked against TFLM
# with its opcode patched to SELECT_V2 (same kernel semantics, empty options).
SELECT_V1_SPECS: list[Spec] = [("attention_causal", (5, 7), _attention(True), _normal)]


def build(spec: Spec, cache_dir: Path) -> bytes:
    """The int8 TFLite model of `spec` (int8 input and output), cached under cache_dir."""
    import keras
    import tensorflow as tf

    name, shape, builder, calib = spec
    src = inspect.getsource(builder) + inspect.getsource(calib)
    key = hashlib.sha256(f"{name}|{shape}|{src}|{tf.__version__}".encode()).hexdigest()[:16]
    path = cache_dir / f"{name}-{key}.tflite"
    if path.exists():
        return path.read_bytes()
    from edgekit.model.quantize import convert_int8

    seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % (2**31)
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    model = keras.Model(inp, builder(keras, inp))
    samples = calib(np.random.default_rng(seed), 64, shape).astype(np.float32)
    buf = convert_int8(model, samples, where="transformer sweep model")
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf)
    tmp.rename(path)
    return buf


