"""Attention masks with a masked logit int8 can hold (used by edgekit.model.convert_worker
around the conversion).

Keras 3 masks attention logits with a huge negative constant: -0.7 * float32 max in
`dot_product_attention` (MultiHeadAttention's causal mask, a SELECT_V2), -1e9 in the Softmax
layer (MultiHeadAttention with dropout, Attention). The int8 SELECT_V2 shares one scale between
the logits and that constant, so every logit quantizes to the same code and the int8 attention
averages over the unmasked positions (a transformer classifier loses 0.2 of accuracy). While the
model converts, the constant is -(R + 16) instead, R the largest |logit| seen on calibration
data: a masked position still weighs under exp(-16) in float (checked against the original)
and exactly 0 in the int8 softmax, and the logits keep their precision. Only the conversion
child process imports this module.
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
from keras.src.backend.tensorflow import nn as _tf_nn  # noqa: E402  (Keras' masking helpers live here)
from keras.src.layers.activations import softmax as _softmax  # noqa: E402

_MARGIN = 16.0  # exp(-16) ~ 1e-7: a masked position's weight in float
_TOLERANCE = 1e-4  # relative, as the other conversion forms


def _outputs(model: Any, xs: list[np.ndarray]) -> np.ndarray:
    out = model(xs if len(xs) > 1 else xs[0], training=False)
    outs = out if isinstance(out, (list, tuple)) else [out]
    return np.concatenate([np.asarray(o, np.float64).reshape(len(xs[0]), -1) for o in outs], axis=1)


def _largest_masked_logit(model: Any, xs: list[np.ndarray]) -> float | None:
    """The largest |logit| any masked attention sees on xs, None when the model masks none."""
    seen: list[float] = []
    apply_masks, softmax_call = _tf_nn._apply_masks, keras.layers.Softmax.call

    def recording_apply_masks(logits: Any, mask: Any, is_causal: Any) -> Any:
        if mask is not None or is_causal:
            seen.append(float(tf.reduce_max(tf.abs(logits))))
        return apply_masks(logits, mask, is_causal)

    def recording_softmax(self: Any, inputs: Any, mask: Any = None) -> Any:
        if mask is not None:
            seen.append(float(tf.reduce_max(tf.abs(inputs))))
        return softmax_call(self, inputs, mask=mask)

    try:
        _tf_nn._apply_masks, keras.layers.Softmax.call = recording_apply_masks, recording_softmax
        _outputs(model, xs)
    finally:
        _tf_nn._apply_masks, keras.layers.Softmax.call = apply_masks, softmax_call
    return max(seen) if seen else None


@contextmanager
def moderate_masks(model: Any, calibration: list[np.ndarray], where: str = "model") -> Iterator[None]:
    """Within the block Keras masks attention logits with -(R + 16) (a no-op for a model that
    masks none); checked against the original on up to 64 calibration samples first."""
    xs = [np.asarray(a)[:64] for a in calibration]
    hooks = all(hasattr(_tf_nn, f) for f in ("_apply_masks", "_get_large_negative"))
    hooks = hooks and hasattr(_softmax, "_large_negative_number")  # private Keras names: another Keras may lack them
    largest = _largest_masked_logit(model, xs) if hooks else None
    if largest is None:
        yield
        return
    value = -float(np.ceil(largest + _MARGIN))
    want = _outputs(model, xs)
    large_negative, softmax_negative = _tf_nn._get_large_negative, _softmax._large_negative_number
    try:
        _tf_nn._get_large_negative = lambda dtype: tf.constant(value, dtype=dtype)
        _softmax._large_negative_number = lambda dtype: value
        got = _outputs(model, xs)
        scale = max(1.0, float(np.max(np.abs(want))))
        if want.shape != got.shape or float(np.max(np.abs(want - got))) > _TOLERANCE * scale:
            raise ModelError(f"{where}: its attention masked with {value:g} in place of Keras' -3.4e38 disagrees "
                             "with Keras in float", hint="report this model to edgekit")
        yield
    finally:
        _tf_nn._get_large_negative, _softmax._large_negative_number = large_negative, softmax_negative
