"""Loading Keras models with clear errors, and TensorFlow set-up shared by edgekit."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgekit.console import quiet_native_stderr
from edgekit.errors import InputFileError, ModelError


def import_tensorflow() -> Any:
    """Import TensorFlow quietly and deterministically (one call site for all of edgekit)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # oneDNN reorders float sums: not repeatable
    with quiet_native_stderr():
        import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


def load_keras_model(path: Path | str) -> Any:
    """Load a .keras (or .h5) model; one clear line when the file is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"Keras model not found: {path}")
    if path.suffix not in (".keras", ".h5"):
        raise InputFileError(f"{path} is not a Keras model file (.keras or .h5)",
                             hint="for a .tflite file use `edgekit inspect` or `edgekit evaluate`")
    import_tensorflow()
    import keras

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for corrupt archives
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(f"cannot load Keras model {path}: {first_line[:200]}",
                             hint="re-save it with model.save('model.keras')") from None


def static_input_shape(model: Any, where: str) -> tuple[int, ...]:
    """The model's single input shape without batch, all dimensions known."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"{where} has {len(model.inputs)} inputs and {len(model.outputs)} outputs;"
                         " edgekit supports single-input, single-output models")
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ModelError(f"{where} has a dynamic input shape {shape}",
                         hint="give the Input layer a fixed shape, e.g. keras.Input((128, 3))")
    return tuple(int(d) for d in shape)
