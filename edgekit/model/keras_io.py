"""Loading Keras models with clear errors, and TensorFlow set-up shared by edgekit."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import os
import re
import sys
import zipfile
from dataclasses import dataclass
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
    if path.is_dir() and (path / "saved_model.pb").is_file():
        raise InputFileError(f"{path} is a TensorFlow SavedModel directory; edgekit reads Keras model files "
                             "(.keras or .h5)", hint="save the Keras model with model.save('model.keras'), "
                             "or convert the SavedModel to an int8 .tflite and start from `edgekit generate`")
    if path.is_dir():
        raise InputFileError(f"{path} is a directory, not a Keras model file (.keras or .h5)")
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
    custom = custom_objects()   # before TensorFlow loads: a missing file fails fast
    trusted = bool(os.environ.get(CUSTOM_OBJECTS_ENV))
    import_tensorflow()
    import keras

    import edgekit.model.decode_layers  # noqa: F401  (edgekit's own layers, registered by importing)

    try:
        # Given custom objects, the user vouches for the model's code: Lambda layers load too.
        return keras.saving.load_model(path, compile=False, custom_objects=custom or None,
                                       safe_mode=not trusted)
    except Exception as exc:  # Keras raises many types for corrupt archives
        raise _load_failed(path, exc, trusted) from None


# `--custom-objects FILE.py|MODULE` sets this, so that every process edgekit starts (the
# converter's worker, the float reference of hil) loads the same objects.
CUSTOM_OBJECTS_ENV = "EDGEKIT_CUSTOM_OBJECTS"
_LOCATE = re.compile(r"Could not locate (?:class|function) '([^']+)'")


def custom_objects() -> dict[str, Any]:
    """The classes and functions of $EDGEKIT_CUSTOM_OBJECTS (a .py file or an importable module):
    its CUSTOM_OBJECTS dict when it has one, else every class and function it defines; {} when
    unset. InputFileError when the file is missing or fails to import."""
    spec = os.environ.get(CUSTOM_OBJECTS_ENV, "")
    if not spec:
        return {}
    module = _import_custom(spec)
    table = getattr(module, "CUSTOM_OBJECTS", None)
    if isinstance(table, dict):
        return dict(table)
    return {name: obj for name, obj in vars(module).items()
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == module.__name__}


@functools.cache
def _import_custom(spec: str) -> Any:
    try:
        if spec.endswith(".py") or os.sep in spec:
            path = Path(spec)
            if not path.is_file():
                raise InputFileError(f"custom objects file not found: {path}")
            loader = importlib.util.spec_from_file_location(f"edgekit_custom_{path.stem}", path)
            if loader is None or loader.loader is None:
                raise InputFileError(f"{path} is not a Python file")
            module = importlib.util.module_from_spec(loader)
            sys.modules[loader.name] = module   # Keras looks classes up by their module
            loader.loader.exec_module(module)
            return module
        return importlib.import_module(spec)
    except InputFileError:
        raise
    except Exception as exc:  # the user's code: any error, reported in one line
        raise InputFileError(f"custom objects {spec} failed to import: {type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:300]}") from None


def _load_failed(path: Path, exc: Exception, have_custom: bool) -> InputFileError:
    """Keras's own reason, without the configs it dumps: the class it could not find, else its
    first line."""
    text = str(exc)
    missing = _LOCATE.search(text)
    if missing:
        where = "the --custom-objects given do not define it" if have_custom else \
            "pass --custom-objects FILE.py (or a module) defining it"
        return InputFileError(f"{path} uses {missing.group(1)}, which Keras could not locate", hint=where)
    if "safe_mode" in text and "Lambda" in text:
        return InputFileError(f"{path} has a Lambda layer, which Keras loads only from code you trust",
                              hint="pass --custom-objects FILE.py with the functions it uses (that trusts the "
                                   "model's code), or replace the Lambda with a layer")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    first = lines[0] if lines and "file not found" not in lines[0].lower() else type(exc).__name__
    return _not_keras(path, " ".join(first.split())[:300])


def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _not_keras(path: Path, why: str) -> InputFileError:
    return InputFileError(f"{path} is not a valid Keras model: {why}",
                          hint="re-save it with model.save('model.keras')")


@dataclass(frozen=True)
class KerasIO:
    """A Keras model's inputs and outputs: names (the Input layers' and output layers') and
    shapes without the batch axis, all dimensions known, in the model's order."""

    input_names: list[str]
    input_shapes: list[tuple[int, ...]]
    output_names: list[str]
    output_shapes: list[tuple[int, ...]]
    output_dtypes: list[str]   # "float32"; "int32" for class ids (keras.ops.argmax)
    input_dtypes: list[str]    # as the Input layers declare them: "int32" for token ids

    @property
    def single(self) -> bool:
        """One input and one output."""
        return len(self.input_names) == 1 and len(self.output_names) == 1


def keras_io(model: Any, where: str) -> KerasIO:
    """The names and static shapes of the model's inputs and outputs; ModelError for a dynamic one."""
    def shapes(tensors: list[Any], what: str, hint: str) -> list[tuple[int, ...]]:
        out = []
        for t in tensors:
            shape = tuple(t.shape[1:])
            if any(d is None for d in shape):
                raise ModelError(f"{where} has a dynamic {what} shape {shape}", hint=hint)
            out.append(tuple(int(d) for d in shape))
        return out

    ins = shapes(list(model.inputs), "input", "give the Input layer a fixed shape, e.g. keras.Input((128, 3))")
    outs = shapes(list(model.outputs), "output", "give every layer a fixed shape")
    in_names = [getattr(t, "name", None) or f"input_{k}" for k, t in enumerate(model.inputs)]
    out_names = list(getattr(model, "output_names", None) or [f"output_{k}" for k in range(len(outs))])
    out_dtypes = [str(getattr(t, "dtype", "float32")) for t in model.outputs]
    in_dtypes = [str(getattr(t, "dtype", "float32")) for t in model.inputs]
    return KerasIO(in_names, ins, out_names, outs, out_dtypes, in_dtypes)


def static_input_shape(model: Any, where: str) -> tuple[int, ...]:
    """The model's single input shape without batch, all dimensions known."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"{where} has {len(model.inputs)} inputs and {len(model.outputs)} outputs; this "
                         "command takes single-input, single-output models so far",
                         hint="quantize, evaluate, deploy, generate, hil and compare take several "
                              "(README 'Several inputs and outputs')")
    return keras_io(model, where).input_shapes[0]


def static_output_shape(model: Any, where: str) -> tuple[int, ...]:
    """The model's single output shape with a batch axis of 1, all dimensions known."""
    return (1, *keras_io(model, where).output_shapes[0])
