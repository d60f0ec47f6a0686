"""Loading Keras models with clear errors, and TensorFlow set-up shared by edgekit."""

from __future__ import annotations

import os
import zipfile
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
    # Keras calls an unreadable archive "File not found": look at the container first.
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise _not_keras(path, "not a .keras (zip) archive")
    if path.suffix == ".h5" and _head(path, 8) != b"\x89HDF\r\n\x1a\n":
        raise _not_keras(path, "not an HDF5 file")
    import_tensorflow()
    import keras

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for corrupt archives
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        first_line = lines[0] if lines and "file not found" not in lines[0].lower() else type(exc).__name__
        raise _not_keras(path, first_line[:200]) from None


def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _not_keras(path: Path, why: str) -> InputFileError:
    return InputFileError(f"{path} is not a valid Keras model: {why}",
                          hint="re-save it with model.save('model.keras')")


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


def static_output_shape(model: Any, where: str) -> tuple[int, ...]:
    """The model's single output shape with a batch axis of 1, all dimensions known."""
    shape = tuple(model.outputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ModelError(f"{where} has a dynamic output shape {shape}",
                         hint="give every layer a fixed shape")
    return (1, *(int(d) for d in shape))
