"""Benchmark models built from code: the three int8 models edgekit is measured on.

- sine: 1 -> 16 -> 16 -> 1 dense (the shape of TFLM's hello-world model);
- ds_cnn_kws: MLPerf Tiny keyword spotting DS-CNN (49x10x1 MFCC in, 12 classes);
- ad_autoencoder: MLPerf Tiny anomaly-detection autoencoder (640 in, 640 out, 10 dense layers).

The models are for speed, memory and bit-exactness, not accuracy: weights are drawn from a
seeded numpy generator (He-normal kernels, small non-zero biases) and each BatchNormalization
takes the mean and variance of its input on the calibration data, as a short training run
would leave them. Conversion is the project's own full-integer int8 path
(edgekit.model.quantize), so the models have int8 input and output and static batch 1.

Built files are cached on disk, keyed by the builder version and the TensorFlow and Keras
versions: the same seed and versions give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.data import atomic_write_bytes
from edgekit.errors import UsageError
from edgekit.resources import cache_dir as edgekit_cache

# Bump when a builder changes what it makes: cached files of the old version are then ignored.
ZOO_VERSION = 1
CALIBRATION_SAMPLES = 100
BIAS_STD = 0.1  # non-zero biases keep the converter's tensor layout that of a trained model


@dataclass(frozen=True)
class ZooModel:
    """One benchmark model: its input shape and its layers, applied in order."""

    name: str
    input_shape: tuple[int, ...]
    layers: Callable[[Any], list[Any]]  # keras.layers module -> fresh layers, explicitly named


def _sine_layers(L: Any) -> list[Any]:
    return [L.Dense(16, activation="relu", name="fc1"), L.Dense(16, activation="relu", name="fc2"),
            L.Dense(1, name="out")]


def _bn_relu(L: Any, name: str) -> list[Any]:
    return [L.BatchNormalization(name=f"{name}_bn"), L.ReLU(name=f"{name}_relu")]


def _ds_cnn_layers(L: Any) -> list[Any]:
    # MLPerf Tiny KWS reference (dropout left out: inference graphs do not hold it). No conv
    # biases: BatchNormalization follows each conv and folds its own bias in.
    layers = [L.Conv2D(64, (10, 4), strides=2, padding="same", use_bias=False, name="conv1"), *_bn_relu(L, "conv1")]
    for i in range(1, 5):
        layers += [L.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{i}"), *_bn_relu(L, f"dw{i}"),
                   L.Conv2D(64, 1, use_bias=False, name=f"pw{i}"), *_bn_relu(L, f"pw{i}")]
    return layers + [L.AveragePooling2D((25, 5), name="pool"), L.Flatten(name="flatten"),
                     L.Dense(12, activation="softmax", name="fc")]


def _ad_autoencoder_layers(L: Any) -> list[Any]:
    # MLPerf Tiny AD reference: 4 x 128, bottleneck 8, 4 x 128, each dense + BN + ReLU.
    units = [("enc1", 128), ("enc2", 128), ("enc3", 128), ("enc4", 128), ("bottleneck", 8),
             ("dec1", 128), ("dec2", 128), ("dec3", 128), ("dec4", 128)]
    layers: list[Any] = []
    for name, n in units:
        layers += [L.Dense(n, name=name), *_bn_relu(L, name)]
    return layers + [L.Dense(640, name="out")]


MODELS: dict[str, ZooModel] = {m.name: m for m in (
    ZooModel("sine", (1,), _sine_layers),
    ZooModel("ds_cnn_kws", (49, 10, 1), _ds_cnn_layers),
    ZooModel("ad_autoencoder", (640,), _ad_autoencoder_layers),
)}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


def get_model(name: str) -> ZooModel:
    """The benchmark model called `name`; UsageError naming the known ones otherwise."""
    if name not in MODELS:
        raise UsageError(f"unknown benchmark model '{name}'", hint=f"known: {', '.join(MODEL_NAMES)}")
    return MODELS[name]


def calibration_data(name: str, seed: int = 0) -> np.ndarray:
    """Seeded standard-normal inputs: the data BatchNormalization and quantization ranges see."""
    spec = get_model(name)
    rng = np.random.default_rng([seed, 1])
    return rng.standard_normal((CALIBRATION_SAMPLES, *spec.input_shape)).astype(np.float32)


def build_keras(name: str, seed: int = 0) -> Any:
    """The float Keras model `name` with seeded weights (see the module docstring)."""
    from edgekit.model.keras_io import import_tensorflow

    import_tensorflow()
    import keras

    spec = get_model(name)
    layers = spec.layers(keras.layers)
    inputs = keras.Input(spec.input_shape, name="input")
    h = inputs
    for layer in layers:
        h = layer(h)
    model = keras.Model(inputs, h, name=name)
    rng = np.random.default_rng([seed, 0])
    x = calibration_data(name, seed)
    for layer in layers:  # in order: each BatchNormalization sees the data its input carries
        if isinstance(layer, keras.layers.BatchNormalization):
            axes, channels = tuple(range(x.ndim - 1)), (x.shape[-1],)
            layer.set_weights([rng.uniform(0.8, 1.2, channels).astype(np.float32),
                               rng.normal(0.0, BIAS_STD, channels).astype(np.float32),
                               x.mean(axis=axes), x.var(axis=axes)])
        elif layer.weights:
            depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
            layer.set_weights([_draw(rng, w.shape, depthwise) for w in layer.weights])
        x = np.asarray(layer(x))
    return model


def _draw(rng: np.random.Generator, shape: tuple[int, ...], depthwise: bool) -> np.ndarray:
    if len(shape) == 1:  # bias
        return rng.normal(0.0, BIAS_STD, shape).astype(np.float32)
    # He normal; a depthwise kernel (kh, kw, channels, multiplier) sums over kh*kw only.
    fan_in = int(np.prod(shape[:-2] if depthwise else shape[:-1]))
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)


def build_tflite(name: str, seed: int = 0) -> bytes:
    """Build, quantize (full-integer int8, int8 input/output) and verify model `name`."""
    from edgekit.model.quantize import quantize_model

    x = calibration_data(name, seed)
    tflite, _ = quantize_model(build_keras(name, seed), x, samples=len(x), where=f"benchmark model {name}")
    return tflite


def _version(*dists: str) -> str:
    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "none"


def cache_dir(seed: int = 0) -> Path:
    """Where built models are kept:
    ${XDG_CACHE_HOME:-~/.cache}/edgekit/models/zoo-v<version>-tf<tf>-keras<keras>-seed<seed>/."""
    # Distribution metadata, not an import: reading the key must not load TensorFlow.
    tf = _version("tensorflow", "tensorflow-cpu", "tf-nightly")
    key = f"zoo-v{ZOO_VERSION}-tf{tf}-keras{_version('keras')}-seed{seed}"
    return edgekit_cache("models") / key


def model_path(name: str, seed: int = 0) -> Path:
    """Path of model `name` as <cache_dir(seed)>/<name>.tflite, built and written (atomically)
    the first time; later calls and later processes reuse the file."""
    get_model(name)
    path = cache_dir(seed) / f"{name}.tflite"
    if not path.is_file():
        atomic_write_bytes(path, build_tflite(name, seed))
    return path


def model_bytes(name: str, seed: int = 0) -> bytes:
    """The .tflite bytes of model `name` (see model_path)."""
    return model_path(name, seed).read_bytes()
