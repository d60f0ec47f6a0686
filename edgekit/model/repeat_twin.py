"""Conversion twin of Keras 3 models whose nearest-neighbour repeats convert to TILE, which
TFLM has no kernel for: UpSampling2D(interpolation="nearest") (the default), UpSampling1D and
RepeatVector become RESHAPE/TILE/RESHAPE. The twin computes the same values as a nearest
resize, which converts to RESIZE_NEAREST_NEIGHBOR (half-pixel centers): for an integer factor
f, output index o reads floor((o + 0.5) / f) = floor(o / f), exactly the repeat. TFLM and
edgekit-rt both run it, so the host TFLM reference judges the board too.

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

REPEAT_KINDS = ("UpSampling2D", "UpSampling1D", "RepeatVector")
_TOLERANCE = 1e-6  # a repeat computes no value: the twin must match to the float bit, nearly


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


def _factors(layer: Any) -> tuple[tuple[int, int], bool] | None:
    """The repeat factors of a REPEAT_KINDS layer twin rewrites, None for one it keeps."""
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
    return any(_factors(layer) is not None for layer in getattr(model, "layers", []))


def build_twin(model: Any, calibration: np.ndarray, where: str = "model") -> Any:
    """`model` with its UpSampling/RepeatVector layers as NearestRepeat, checked in float on
    `calibration`; ModelError if they disagree."""

    def clone(layer: Any) -> Any:
        found = _factors(layer)
        if found is None:
            return layer  # shared, weights and all
        return NearestRepeat(found[0], vector=found[1], name=f"{layer.name}_twin")

    try:
        twin = keras.models.clone_model(model, clone_function=clone)
    except Exception as exc:
        raise ModelError(f"{where}: cannot rebuild the model with RESIZE_NEAREST_NEIGHBOR repeats: "
                         f"{' '.join(str(exc).split())[:200]}",
                         hint="build one flat Sequential or functional model") from None
    x = np.asarray(calibration, dtype=np.float32)[:64]
    want = np.asarray(model.predict(x, verbose=0), np.float64)
    got = np.asarray(twin.predict(x, verbose=0), np.float64)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    if want.shape != got.shape or (want.size and float(np.max(np.abs(want - got))) > _TOLERANCE * scale):
        raise ModelError(f"{where}: edgekit's RESIZE_NEAREST_NEIGHBOR form of its UpSampling/RepeatVector "
                         "layers disagrees with Keras in float",
                         hint="report this model to edgekit; meanwhile use Resizing(interpolation='nearest') "
                              "in place of those layers")
    return twin
