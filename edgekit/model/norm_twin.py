"""Integer-friendly twins of Keras 3's normalization layers (used by edgekit.model.layer_twin).

TF 2.21's converter leaves one float op in each of them in a full-int8 model: the NEG of
`-mean * inv` in LayerNormalization and the SQUARE of RMSNormalization, UnitNormalization and
LayerNormalization(rms_scaling=True), each between DEQUANTIZE and QUANTIZE. The same function
written as x - mean (SUB) and a squared difference or x * x (MUL) converts with every op int8:

| layer | the twin converts to |
|---|---|
| LayerNormalization | MEAN, SUB, SQUARED_DIFFERENCE, MEAN, ADD(eps), RSQRT, MUL, MUL(gamma), ADD(beta) |
| LayerNormalization(rms_scaling=True) | MEAN, SQUARED_DIFFERENCE, MEAN, ADD(eps), RSQRT, MUL, MUL(gamma) |
| RMSNormalization | MUL(x, x), MEAN, ADD(eps), RSQRT, MUL, MUL(scale) |
| UnitNormalization | MUL(x, x), SUM, RSQRT, MINIMUM(1e12), MUL |

gamma/beta/scale are copied as constants (MUL or ADD is left out where the layer has none).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.errors import ModelError
from edgekit.model.keras_io import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402  (after edgekit's quiet TensorFlow set-up)

NORM_KINDS = ("LayerNormalization", "RMSNormalization", "UnitNormalization")


class IntegerNorm(keras.layers.Layer):
    """A normalization over `axes` written with ops TF's converter makes int8: `kind` "layer"
    (centred), "rms_scaling" (x over the standard deviation: LayerNormalization's rms_scaling),
    "rms" (x over the root mean square) or "unit" (x over the L2 norm, at most 1e12 times x);
    `gamma`/`beta` of the axes' shape, None when the layer has none."""

    def __init__(self, kind: str, axes: list[int], epsilon: float, gamma: np.ndarray | None = None,
                 beta: np.ndarray | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind, self.axes, self.epsilon = kind, axes, float(epsilon)
        self.gamma, self.beta = gamma, beta

    def call(self, x: Any) -> Any:
        """The layer's function: no NEG (x - mean is a SUB), no SQUARE (a squared difference or
        x * x), so nothing the converter leaves in float."""
        rank = len(x.shape)
        axes = sorted(a % rank for a in self.axes)
        if self.kind == "unit":  # Keras: x * min(rsqrt(sum(x^2)), 1 / 1e-12)
            inv = tf.minimum(tf.math.rsqrt(tf.reduce_sum(x * x, axis=axes, keepdims=True)), 1e12)
            return x * inv
        if self.kind == "rms":
            y = x * tf.math.rsqrt(tf.reduce_mean(x * x, axis=axes, keepdims=True) + self.epsilon)
        else:
            mean = tf.reduce_mean(x, axis=axes, keepdims=True)
            var = tf.reduce_mean(tf.math.squared_difference(x, mean), axis=axes, keepdims=True)
            y = (x if self.kind == "rms_scaling" else x - mean) * tf.math.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            y = y * tf.constant(_broadcast(self.gamma, axes, rank))
        return y if self.beta is None else y + tf.constant(_broadcast(self.beta, axes, rank))


def _broadcast(weight: np.ndarray, axes: list[int], rank: int) -> np.ndarray:
    """A gamma/beta/scale of the axes' shape, reshaped to broadcast against the input (batch 1):
    Keras' own broadcast for axes other than the last."""
    shape = [1] * rank
    for a, d in zip(axes, weight.shape, strict=True):
        shape[a] = d
    return weight.reshape(shape)


def _axes(layer: Any, where: str) -> list[int]:
    """The layer's normalized axes as it holds them (negative from the end)."""
    axes = [int(a) for a in (layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis])]
    if 0 in axes:
        raise ModelError(f"{where}: {type(layer).__name__} '{layer.name}' normalizes over the batch axis "
                         f"(axis={layer.axis}), which edgekit does not convert",
                         hint="normalize over feature axes only (axis=-1 is Keras' default)")
    return axes


def _numpy(value: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), np.float32)


def norm_replacement(layer: Any, where: str) -> Any:
    """The IntegerNorm twin of a NORM_KINDS layer, a ModelError for a form it cannot convert."""
    kind = type(layer).__name__
    if layer.compute_dtype != "float32":
        raise ModelError(f"{where}: {kind} '{layer.name}' computes in {layer.compute_dtype}",
                         hint="convert a float32 model (no mixed-precision policy)")
    axes = _axes(layer, where)
    name = f"{layer.name}_twin"
    if kind == "UnitNormalization":
        return IntegerNorm("unit", axes, 1e-12, name=name)
    if kind == "RMSNormalization":
        return IntegerNorm("rms", axes, layer.epsilon, _numpy(layer.scale), name=name)
    gamma = None if layer.gamma is None else _numpy(layer.gamma)
    beta = None if layer.beta is None else _numpy(layer.beta)
    return IntegerNorm("rms_scaling" if layer.rms_scaling else "layer", axes, layer.epsilon, gamma, beta, name=name)
