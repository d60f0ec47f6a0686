"""Keras 3's normalization layers in a form TF's converter makes full integer (used by
edgekit.model.convert_worker around the conversion).

TF 2.21's converter leaves one float op in each of them in a full-int8 model: the NEG of
`-mean * inv` in LayerNormalization and the SQUARE of RMSNormalization, UnitNormalization and
LayerNormalization(rms_scaling=True), each between DEQUANTIZE and QUANTIZE. The same function
written as x - mean (SUB) and a squared difference or x * x (MUL) converts with every op int8:

| layer | converts to |
|---|---|
| LayerNormalization | MEAN, SQUARED_DIFFERENCE, MEAN, ADD(eps), RSQRT, SUB, MUL, MUL(gamma), ADD(beta) |
| LayerNormalization(rms_scaling=True) | MEAN, SQUARED_DIFFERENCE, MEAN, ADD(eps), RSQRT, MUL, MUL(gamma) |
| RMSNormalization | MUL(x, x), MEAN, ADD(eps), RSQRT, MUL, MUL(scale) |
| UnitNormalization | MUL(x, x), SUM, RSQRT, MINIMUM(1e12), MUL |

(no MUL or ADD where the layer has no gamma or beta). The three classes' `call` is swapped
while the model converts rather than the layers cloned, so a normalization inside a custom
layer (a TransformerBlock) converts too; the swapped model is checked against the original
in float first. Only the conversion child process imports this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from edgekit.errors import ModelError
from edgekit.model.keras_io import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402  (after edgekit's quiet TensorFlow set-up)

_CLASSES = {"LayerNormalization": keras.layers.LayerNormalization,
            "RMSNormalization": keras.layers.RMSNormalization,
            "UnitNormalization": keras.layers.UnitNormalization}
_TOLERANCE = 1e-4  # relative: the same sums in another order, then through the layers after them


def _axes(layer: Any, rank: int) -> list[int]:
    raw = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    return sorted(int(a) % rank for a in raw)


def _broadcast(weight: Any, axes: list[int], x: Any) -> Any:
    """A gamma/beta/scale of the axes' shape reshaped to broadcast against x (Keras reshapes
    it likewise for axes other than the last)."""
    shape = [int(d) if k in axes else 1 for k, d in enumerate(x.shape)]
    return tf.reshape(tf.cast(weight, tf.float32), shape)


def _epsilon(layer: Any) -> float:
    return float(keras.config.epsilon() if layer.epsilon is None else layer.epsilon)


def _layer_norm(self: Any, inputs: Any) -> Any:
    """LayerNormalization.call without NEG: (x - mean) * rsqrt(var + eps) * gamma + beta, the
    variance a squared difference (rms_scaling: x, not x - mean, over the standard deviation)."""
    axes = _axes(self, len(inputs.shape))
    mean = tf.reduce_mean(inputs, axis=axes, keepdims=True)
    var = tf.reduce_mean(tf.math.squared_difference(inputs, mean), axis=axes, keepdims=True)
    y = (inputs if self.rms_scaling else inputs - mean) * tf.math.rsqrt(var + _epsilon(self))
    if self.gamma is not None:
        y = y * _broadcast(self.gamma, axes, inputs)
    return y if self.beta is None else y + _broadcast(self.beta, axes, inputs)


def _rms_norm(self: Any, x: Any) -> Any:
    """RMSNormalization.call without SQUARE: x * rsqrt(mean(x * x) + eps) * scale."""
    axes = _axes(self, len(x.shape))
    y = x * tf.math.rsqrt(tf.reduce_mean(x * x, axis=axes, keepdims=True) + _epsilon(self))
    return y * _broadcast(self.scale, axes, x)


def _unit_norm(self: Any, inputs: Any) -> Any:
    """UnitNormalization.call without SQUARE: x * min(rsqrt(sum(x * x)), 1 / 1e-12), Keras' form."""
    axes = _axes(self, len(inputs.shape))
    return inputs * tf.minimum(tf.math.rsqrt(tf.reduce_sum(inputs * inputs, axis=axes, keepdims=True)), 1e12)


_CALLS = {"LayerNormalization": _layer_norm, "RMSNormalization": _rms_norm, "UnitNormalization": _unit_norm}


def normalizations(model: Any) -> list[Any]:
    """The model's normalization layers at any depth whose `call` is Keras' own (a subclass
    with its own call is converted as TF converts it)."""
    found = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        kind = next((k for k, cls in _CLASSES.items() if isinstance(layer, cls)), None)
        if kind is not None and type(layer).call is _CLASSES[kind].call:
            found.append(layer)
    return found


def _refusal(layer: Any, where: str) -> ModelError | None:
    kind = next(k for k, cls in _CLASSES.items() if isinstance(layer, cls))
    if layer.compute_dtype != "float32":
        return ModelError(f"{where}: {kind} '{layer.name}' computes in {layer.compute_dtype}",
                          hint="convert a float32 model (no mixed-precision policy)")
    axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    if 0 in axes:
        return ModelError(f"{where}: {kind} '{layer.name}' normalizes over the batch axis (axis={layer.axis}), "
                          "which edgekit does not convert",
                          hint="normalize over feature axes only (axis=-1 is Keras' default)")
    return None


def _outputs(model: Any, xs: list[np.ndarray]) -> np.ndarray:
    """The model's float outputs on xs, called eagerly (predict would reuse a traced function)."""
    out = model(xs if len(xs) > 1 else xs[0], training=False)
    outs = out if isinstance(out, (list, tuple)) else [out]
    return np.concatenate([np.asarray(o, np.float64).reshape(len(xs[0]), -1) for o in outs], axis=1)


@contextmanager
def integer_norms(model: Any, calibration: list[np.ndarray], where: str = "model") -> Iterator[None]:
    """Within the block, Keras' normalization layers compute in the form above (a no-op for a
    model without any). Checked first against the original on up to 64 calibration samples:
    ModelError if they disagree or a normalization is of a form edgekit refuses."""
    layers = normalizations(model)
    if not layers:
        yield
        return
    for layer in layers:
        if (error := _refusal(layer, where)) is not None:
            raise error
    xs = [np.asarray(a)[:64] for a in calibration]
    want = _outputs(model, xs)
    saved = {kind: cls.call for kind, cls in _CLASSES.items()}
    try:
        for kind, cls in _CLASSES.items():
            cls.call = _CALLS[kind]
        got = _outputs(model, xs)
        scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
        if want.shape != got.shape or (want.size and float(np.max(np.abs(want - got))) > _TOLERANCE * scale):
            raise ModelError(f"{where}: edgekit's integer form of its normalization layers disagrees with Keras "
                             "in float", hint="report this model to edgekit")
        yield
    finally:
        for kind, cls in _CLASSES.items():
            cls.call = saved[kind]
