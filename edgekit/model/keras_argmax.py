"""`keras.ops.argmax` / `argmin` traced as plain TensorFlow argmax / argmin for int8 conversion.

Keras 3's TensorFlow backend replaces -0.0 by the smallest negative float before a float
argmax (a flush-to-zero fix); its sign test lowers to a BitwiseAnd that TensorFlow's int8
converter cannot translate, so a model ending in `keras.ops.argmax` (a class id) does not
convert at all. An int8 tensor has no -0.0 (both zeros quantize to the zero point), so the fix
changes nothing there: while the model is exported, `plain_argminmax()` makes the backend use
the branch Keras itself takes for integer inputs, which converts to one ARG_MAX (ARG_MIN) with
an int32 output that TFLM and edgekit-rt run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def plain_argminmax() -> Iterator[None]:
    """Within the block, Keras' TensorFlow-backend argmax/argmin skip the -0.0 fix (a no-op if
    this Keras lays its backend out otherwise)."""
    try:
        import tensorflow as tf
        from keras.src.backend.tensorflow import numpy as tfnp
    except ImportError:
        yield
        return
    originals = {name: getattr(tfnp, name, None) for name in ("argmax", "argmin")}
    if not all(originals.values()) or not hasattr(tfnp, "_keepdims"):
        yield
        return

    def plain(tf_fn: Callable[..., Any]) -> Callable[..., Any]:
        def fn(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
            x = tf.convert_to_tensor(x)
            flat = tf.reshape(x, [-1]) if axis is None else x
            y = tf_fn(flat, axis=axis, output_type="int32")
            return tfnp._keepdims(x, y, axis) if keepdims else y
        return fn

    tfnp.argmax, tfnp.argmin = plain(tf.argmax), plain(tf.argmin)
    try:
        yield
    finally:
        tfnp.argmax, tfnp.argmin = originals["argmax"], originals["argmin"]
