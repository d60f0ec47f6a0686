"""Small Keras models of the ops a transformer block converts to (BATCH_MATMUL, GELU, RSQRT,
LayerNormalization's float NEG), converted to int8 TFLite for test_transformer_ops.py.

Each spec is (name, input shape, builder(keras, x) -> y, calibration(rng, n, shape) -> float32
samples). GELU specs feed the model input straight into GELU so that one input row of
-128..127 covers its whole table; their calibrations give several input scales and zero points.
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
Spec = tuple[str, tuple[int, ...], Callable[[Any, Any], Any], Calib]


def _normal(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    return rng.normal(0, 1, (n, *shape))


def _uniform(lo: float, hi: float) -> Calib:
    return lambda rng, n, shape: rng.uniform(lo, hi, (n, *shape))


def _gelu(approximate: bool) -> Callable[[Any, Any], Any]:
    def build(keras: Any, x: Any) -> Any:
        return keras.layers.Activation(lambda t: keras.activations.gelu(t, approximate=approximate))(x)
    return build


def _mha(causal: bool) -> Callable[[Any, Any], Any]:
    def build(keras: Any, x: Any) -> Any:
        return keras.layers.MultiHeadAttention(2, 8)(x, x, use_causal_mask=causal)
    return build


def _matmul_adj(keras: Any, x: Any) -> Any:
    """Q K^T over two Dense projections of one input: adj_y (or a TRANSPOSE) and a batch of 1."""
    L = keras.layers
    q, k = L.Dense(6)(x), L.Dense(6)(x)
    return keras.ops.matmul(q, keras.ops.transpose(k, (0, 2, 1)))


def _ln(rms: bool) -> Callable[[Any, Any], Any]:
    def build(keras: Any, x: Any) -> Any:
        L = keras.layers
        return L.LayerNormalization(rms_scaling=rms)(L.Dense(16)(x))
    return build


GELU_SPECS: list[Spec] = [
    ("gelu_exact_normal", (256,), _gelu(False), _normal),
    ("gelu_exact_wide", (256,), _gelu(False), _uniform(-9.0, 5.0)),
    ("gelu_exact_positive", (256,), _gelu(False), _uniform(0.2, 3.0)),
    ("gelu_approx_normal", (256,), _gelu(True), _normal),
    ("gelu_approx_narrow", (256,), _gelu(True), _uniform(-0.7, 0.4)),
    ("gelu_approx_negative", (256,), _gelu(True), _uniform(-6.0, -0.5)),
    ("dense_gelu", (16,), lambda keras, x: keras.layers.Dense(12, activation="gelu")(x), _normal),
]

TFLM_SPECS: list[Spec] = [
    ("mha_self", (8, 16), _mha(False), _normal),
    ("matmul_qk", (5, 7), _matmul_adj, _normal),
    ("layernorm", (6, 16), _ln(False), _normal),
    ("rmsnorm", (6, 16), _ln(True), _normal),
]


def build(spec: Spec, cache_dir: Path) -> bytes:
    """The int8 TFLite model of `spec` (int8 input and output), cached under cache_dir."""
    import keras
    import tensorflow as tf

    name, shape, builder, calib = spec
    src = "".join(inspect.getsource(f) for f in (builder, calib) if not isinstance(f, type))
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
