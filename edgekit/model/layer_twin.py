"""Conversion twin of Keras 3 models with layers TensorFlow converts to ops TFLM lacks, although
an equivalent form converts to ops TFLM (and edgekit-rt) run in int8:

| layer | TF converts it to | the twin converts to |
|---|---|---|
| UpSampling1D, UpSampling2D (nearest), RepeatVector | RESHAPE, TILE (no TILE in TFLM) | RESIZE_NEAREST_NEIGHBOR |
| ELU(alpha != 1) | ELU, MUL, GREATER, SELECT in float (no SELECT in TFLM) | ELU, PRELU (slope alpha) |

The repeat is a nearest resize with half-pixel centers: for an integer factor f, output index
o reads floor((o + 0.5) / f) = floor(o / f), exactly the repeated element. ELU with slope
alpha is alpha * (exp(x) - 1) below 0: ELU(1) there, negative exactly when x is, times alpha,
which a PReLU of slope alpha does (quantize then makes the ELU int8: float_islands.py). The
host TFLM reference then judges the board too.

Every other layer is kept (the same object); the twin is checked against the original in
float before conversion. Only the conversion child process (convert_worker) imports this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.errors import ModelError
from edgekit.model.keras_io import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402  (after edgekit's quiet TensorFlow set-up)

TWIN_KINDS = ("UpSampling2D", "UpSampling1D", "RepeatVector", "ELU")
_TOLERANCE = 1e-5  # relative: a repeat computes no value, an ELU the same expression


class NearestRepeat(keras.layers.Layer):
    """out[h * a + i, w * b + j] = in[h, w] over the middle axes of a rank-3 or rank-4 input, as
    a nearest resize: `factors` (a, b), b = 1 for sequences, a sequence of one step made of a
    vector (RepeatVector) by `vector=True`."""

    def __init__(self, factors: tuple[int, int], vector: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factors, self.vector = factors, vector

    def call(self, x: Any) -> Any:
        """The repeat as RESHAPE, RESIZE_NEAREST_NEIGHBOR, RESHAPE (no reshape for images)."""
        shape = [int(d) for d in x.shape[1:]]
        if self.vector:
            shape = [1] + shape
        image = len(shape) == 3
        h, w, c = shape if image else (shape[0], 1, shape[1])
        a, b = self.factors
        y = tf.image.resize(tf.reshape(x, (-1, h, w, c)), (h * a, w * b), method="nearest")
        return y if image else tf.reshape(y, (-1, h * a, c))


class EluSlope(keras.layers.Layer):
    """ELU with slope `alpha` below 0 as ELU(1) then a PReLU of constant slope (the form TF's
    converter fuses into ELU and PRELU)."""

    def __init__(self, alpha: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, x: Any) -> Any:
        """relu(e) - alpha * relu(-e) of e = elu(x): Keras' PReLU formula, a constant slope."""
        e = tf.nn.elu(x)
        slope = tf.constant(np.full((1,) * (len(x.shape) - 1), self.alpha, np.float32))
        return tf.nn.relu(e) + (-slope) * tf.nn.relu(-e)


def _replacement(layer: Any) -> Any:
    """The twin of a TWIN_KINDS layer the twin rewrites, None for one it keeps."""
    if type(layer).__name__ == "ELU":
        alpha = float(layer.alpha)
        return None if alpha == 1.0 else EluSlope(alpha, name=f"{layer.name}_twin")
    found = _factors(layer)
    return None if found is None else NearestRepeat(found[0], vector=found[1], name=f"{layer.name}_twin")


def _factors(layer: Any) -> tuple[tuple[int, int], bool] | None:
    """The repeat factors of an UpSampling or RepeatVector layer the twin rewrites, None for
    one it keeps."""
    kind = type(layer).__name__
    if kind == "UpSampling2D":
        if layer.interpolation != "nearest" or layer.data_format != "channels_last":
            return None
        return (int(layer.size[0]), int(layer.size[1])), False
    if kind == "UpSampling1D":
        return (int(layer.size), 1), False
    if kind == "RepeatVector":
        return (int(layer.n), 1), True
    return None


def needs_twin(model: Any) -> bool:
    """Whether `model` has a top-level layer this twin rewrites."""
    return any(_replacement(layer) is not None for layer in getattr(model, "layers", []))


def build_twin(model: Any, calibration: np.ndarray | list[np.ndarray], where: str = "model") -> Any:
    """`model` with its UpSampling/RepeatVector layers as NearestRepeat and its ELU(alpha != 1)
    as EluSlope, checked in float on `calibration` (one array per model input); ModelError if
    they disagree."""

    def clone(layer: Any) -> Any:
        return _replacement(layer) or layer  # a kept layer is shared, weights and all

    try:
        twin = keras.models.clone_model(model, clone_function=clone)
    except Exception as exc:
        raise ModelError(f"{where}: cannot rebuild the model with TFLM-friendly repeats and ELUs: "
                         f"{' '.join(str(exc).split())[:200]}",
                         hint="build one flat Sequential or functional model") from None
    arrays = calibration if isinstance(calibration, list) else [calibration]
    x = [np.asarray(a)[:64] for a in arrays]
    want, got = _outputs(model, x), _outputs(twin, x)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    if want.shape != got.shape or (want.size and float(np.max(np.abs(want - got))) > _TOLERANCE * scale):
        raise ModelError(f"{where}: edgekit's rewrite of its UpSampling/RepeatVector/ELU layers "
                         "disagrees with Keras in float",
                         hint="report this model to edgekit; meanwhile use Resizing(interpolation='nearest') "
                              "in place of UpSampling and ELU(alpha=1.0)")
    return twin


def _outputs(model: Any, x: list[np.ndarray]) -> np.ndarray:
    """All of `model`'s float outputs on `x`, flattened into one array per sample."""
    out = model.predict(x if len(x) > 1 else x[0], verbose=0)
    outs = out if isinstance(out, (list, tuple)) else [out]
    return np.concatenate([np.asarray(o, np.float64).reshape(len(x[0]), -1) for o in outs], axis=1)
