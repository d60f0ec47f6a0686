"""Keras ops traced as plain TensorFlow while a model is exported for int8 conversion, where
Keras' own form does not convert, or converts to ops no int8 runtime has.

`keras.ops.argmax` / `argmin`: Keras 3's TensorFlow backend replaces -0.0 by the smallest negative float before a float
argmax (a flush-to-zero fix); its sign test lowers to a BitwiseAnd that TensorFlow's int8
converter cannot translate, so a model ending in `keras.ops.argmax` (a class id) does not
convert at all. An int8 tensor has no -0.0 (both zeros quantize to the zero point), so the fix
changes nothing there: while the model is exported, `plain_argminmax()` makes the backend use
the branch Keras itself takes for integer inputs, which converts to one ARG_MAX (ARG_MIN) with
an int32 output that TFLM and edgekit-rt run.

`keras.ops.take` (every Embedding's lookup): Keras wraps negative indices first (`where(i < 0,
i + n, i)`), which converts to LESS, ADD and SELECT on int32 ahead of the GATHER; neither TFLM
(no SELECT) nor edgekit-rt runs that. Token ids are never negative, and a runtime's GATHER
refuses an id out of range rather than wrap it: `plain_take()` gathers directly. A top-level
Embedding converts through the recurrent twin anyway; this reaches the ones inside a user's own
layers (the Keras examples' TokenAndPositionEmbedding).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def plain_ops() -> Iterator[None]:
    """Both patches below, for the block."""
    with plain_argminmax(), plain_take():
        yield


@contextlib.contextmanager
def plain_take() -> Iterator[None]:
    """Within the block, Keras' TensorFlow-backend take gathers a dense tensor of indices without
    wrapping negative ones (a no-op if this Keras lays its backend out otherwise)."""
    try:
        import tensorflow as tf
        from keras.src.backend.tensorflow import numpy as tfnp
    except ImportError:
        yield
        return
    original = getattr(tfnp, "take", None)
    if original is None:
        yield
        return

    def take(x: Any, indices: Any, axis: Any = None) -> Any:
        if axis is None or isinstance(indices, (tf.SparseTensor, tf.RaggedTensor)):
            return original(x, indices, axis=axis)
        return tf.gather(tfnp.convert_to_tensor(x), tfnp.convert_to_tensor(indices), axis=axis)

    tfnp.take = take
    try:
        yield
    finally:
        tfnp.take = original


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
