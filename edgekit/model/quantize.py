"""Full-integer int8 post-training quantization of Keras models, and its verification.

The model is exported as a SavedModel with a static batch-1 input signature and converted
from there: that avoids Keras 3 `from_keras_model` failures and keeps the SHAPE /
STRIDED_SLICE / PACK ops a dynamic batch adds (e.g. around Flatten) out of the graph.

The conversion runs in a child process (edgekit.model.convert_worker): TensorFlow's
calibrator can crash natively (a segfault on a recurrent WHILE loop), and a crash must become
one clear error, not edgekit dying silently. Models with Embedding, LSTM, GRU or Bidirectional
layers are converted through their conversion twin (edgekit.model.recurrent), in the child.
An op the converter leaves in float although TFLM has its int8 kernel (ELU) is made int8 on
the converter's own calibration (edgekit.model.float_islands).
Every temporary file, the SavedModel included, lives in one directory the parent removes
whatever the outcome.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import errors
from edgekit.console import quiet_native_stderr
from edgekit.errors import DataError, ModelError
from edgekit.model.float_islands import integer_islands
from edgekit.model.keras_io import KerasIO, import_tensorflow, keras_io
from edgekit.model.keras_plain import plain_ops
from edgekit.model.tflite_graph import Graph, parse_graph

DEFAULT_CALIBRATION_SAMPLES = 200
CONVERT_TIMEOUT_S = 1800.0  # a conversion still running after this long is stopped
_CONVERT_HINT = ("replace the layer the converter cannot quantize (a generic keras.layers.RNN or custom cell is "
                 "one cause: edgekit rewrites only Keras LSTM, GRU, SimpleRNN, Bidirectional and Embedding "
                 "layers) with int8-friendly ops: Dense, Conv, pooling, ReLU, Add")
# Tensor types an integer graph may hold (no float island): int8 activations/weights, int32
# biases and shapes, int64 axis/shape constants, the signal library's int16/uint32 spectra, bools.
_INT8_GRAPH_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool")
# Graph input/output types the firmware carries (edgekit/model/iotypes.py): int32 = token ids.
_IO_TYPES = ("int8", "uint8", "int16", "int32")


def calibration_subset(x: Any, samples: int, seed: int = 0) -> Any:
    """Up to `samples` calibration inputs, drawn without replacement, repeatable: of one array,
    or the same samples of each array of a list (one per model input)."""
    if samples <= 0:
        raise DataError(f"--samples must be positive, got {samples}")
    arrays = x if isinstance(x, list) else [x]
    if len(arrays[0]) <= samples:
        return x
    idx = np.sort(np.random.default_rng(seed).choice(len(arrays[0]), size=samples, replace=False))
    return [a[idx] for a in arrays] if isinstance(x, list) else x[idx]


ACTIVATIONS = ("int8", "int16")  # int16: TF's 16x8 mode (int16 activations, int8 weights)


def convert_int8(model: Any, calibration: np.ndarray | list[np.ndarray], *, where: str = "model",
                 input_dtype: str = "float32", activations: str = "int8") -> bytes:
    """Convert a Keras model to full-integer TFLite bytes: int8 (int16 for
    `activations="int16"`) inputs and outputs, or an int32 input left as it is for an input the
    model declares int32/int64 or `input_dtype="int32"` (token ids feeding an Embedding).
    `calibration` holds one array per model input for a model with several; their graph inputs
    and outputs then carry the Keras names and come in the Keras model's order (the converter
    sorts them by name)."""
    tf = import_tensorflow()
    io = keras_io(model, where)
    calib = list(calibration) if isinstance(calibration, (list, tuple)) else [calibration]
    if len(calib) != len(io.input_shapes):
        raise DataError(f"calibration data has {len(calib)} arrays, {where} has {len(io.input_shapes)} inputs")
    for arr, shape, name in zip(calib, io.input_shapes, io.input_names):
        if arr.shape[1:] != shape:
            raise DataError(f"calibration data for input '{name}' has samples of shape {arr.shape[1:]}, "
                            f"the model takes {shape}")
        if len(arr) == 0:
            raise DataError("calibration data is empty")
    # The converter leaves an int32 input alone: token ids (an input the recurrent twin found
    # feeding an Embedding, or one declared integer in a model with an Embedding, perhaps inside
    # a layer of the user's); any other input is float (an integer sensor reading feeding a Dense
    # would otherwise start the graph with a float CAST).
    embeds = any(type(layer).__name__ == "Embedding" for layer in model._flatten_layers(include_self=False))
    dtypes = ["int32" if input_dtype == "int32" or (embeds and declared in ("int32", "int64")) else "float32"
              for declared in io.input_dtypes]
    calib = [a.astype(dtype) for a, dtype in zip(calib, dtypes)]
    single = io.single

    def representative_dataset():
        for k in range(len(calib[0])):
            if single:
                yield [calib[0][k][None]]
            else:  # by signature name: the converter's own input order is not the model's
                yield {name: a[k][None] for name, a in zip(io.input_names, calib)}

    with tempfile.TemporaryDirectory(prefix="edgekit-savedmodel-") as tmp:
        saved = Path(tmp) / "saved_model"
        specs = [tf.TensorSpec((1, *shape), tf.as_dtype(dtype), name=None if single else name)
                 for shape, name, dtype in zip(io.input_shapes, io.input_names, dtypes)]
        try:
            with plain_ops():  # keras.ops.argmax as one ARG_MAX, take as one GATHER (keras_plain.py)
                if single:
                    model.export(str(saved), format="tf_saved_model", verbose=False, input_signature=specs)
                else:
                    _export_named(model, io, specs, saved)
        except Exception as exc:
            raise ModelError(f"cannot export {where} as a SavedModel: {_first_line(exc)}") from None
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
        if activations == "int16":
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int16
        else:
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int8
        try:
            with quiet_native_stderr():  # the converter prints its settings to stderr
                tflite = bytes(converter.convert())
        except Exception as exc:
            mode = "16x8 (int16 activations)" if activations == "int16" else "full-integer int8"
            raise ModelError(f"{where} does not convert to {mode}: {_first_line(exc)}",
                             hint="replace the layer the converter names with int8-friendly ops") from None
    # ELU (and any op float_islands lists) left in float although TFLM has its int8 kernel.
    tflite = integer_islands(tflite)[0]
    return tflite if single else keras_order(tflite, io.input_names, io.output_names)


def _export_named(model: Any, io: KerasIO, specs: list[Any], saved: Path) -> None:
    """A SavedModel whose serving signature names inputs and outputs as the Keras model does
    (model.export names outputs output_0, output_1...)."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(*args: Any) -> dict[str, Any]:
        outs = model(list(args), training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return dict(zip(io.output_names, outs))

    archive.add_endpoint("serve", serve, input_signature=specs)
    archive.write_out(str(saved), verbose=False)


def keras_order(tflite: bytes, input_names: list[str], output_names: list[str]) -> bytes:
    """The model with its main subgraph's inputs and outputs listed in the given order of
    their signature names (what a runtime's input(k)/output(k) and edgekit's I/O blocks follow)."""
    from tensorflow.lite.python import schema_py_generated as fb

    model = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(bytearray(tflite), 0))
    sig = next((sd for sd in model.signatureDefs or [] if sd.subgraphIndex == 0), None)
    if sig is None:
        return tflite
    sg = model.subgraphs[0]
    by_name = {tm.name.decode() if isinstance(tm.name, bytes) else tm.name: tm.tensorIndex
               for tm in list(sig.inputs or []) + list(sig.outputs or [])}
    if not set(input_names) | set(output_names) <= set(by_name):
        return tflite  # not the signature this module wrote: leave the order alone
    ins, outs = [by_name[n] for n in input_names], [by_name[n] for n in output_names]
    if sorted(ins) != sorted(sg.inputs) or sorted(outs) != sorted(sg.outputs):
        return tflite
    sg.inputs, sg.outputs = ins, outs
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _without_locations(line: str) -> str:
    """An MLIR diagnostic without its source locations: "<unknown>:0: error: loc(fused[...
    hundreds of characters ...]): 'tf.Erf' op is neither..." -> "error: 'tf.Erf' op is neither..."."""
    out, i = [], 0
    while (start := line.find("loc(", i)) >= 0:
        out.append(line[i:start])
        depth, j = 0, start + 3
        while j < len(line):
            depth += {"(": 1, ")": -1}.get(line[j], 0)
            j += 1
            if depth == 0:
                break
        i = j + 1 if line[j:j + 1] == ":" else j
    out.append(line[i:])
    return " ".join("".join(out).replace("<unknown>:0: ", "").split())


def _first_line(exc: Exception) -> str:
    lines = [_without_locations(ln) for ln in str(exc).splitlines() if ln.strip()]
    # The converter's useful line names the op, e.g. "'tf.Erf' op is neither a custom op nor...".
    for ln in lines:
        if "op" in ln and ("error" in ln.lower() or "neither" in ln or "not supported" in ln):
            return ln[:300]
    return (lines[0] if lines else type(exc).__name__)[:300]


def float_edge_ops(graph: Graph) -> set[int] | None:
    """The indices of the QUANTIZE ops taking the graph's float32 inputs and the DEQUANTIZE ops
    making its float32 outputs, when every float32 input and output meets only such ops (an
    integer model the converter left with float I/O, its default): else None."""
    ops: set[int] = set()
    for idx in graph.inputs:
        if graph.tensors[idx].dtype == "float32":
            users = [op for op in graph.operators if idx in op.inputs]
            if not users or any(op.op != "QUANTIZE" for op in users):
                return None
            ops.update(op.index for op in users)
    for idx in graph.outputs:
        if graph.tensors[idx].dtype == "float32":
            makers = [op for op in graph.operators if idx in op.outputs]
            if len(makers) != 1 or makers[0].op != "DEQUANTIZE" or idx in graph.inputs:
                return None
            ops.add(makers[0].index)
    return ops


def verify_int8(graph: Graph, where: str) -> None:
    """Every operator builtin (or a custom op: whether a runtime has it is the runtime's
    question) and integer; integer graph input/output (int8, uint8, int16, or int32
    token ids), or float32 only through a QUANTIZE in / DEQUANTIZE out (float_edge_ops). Raises
    ModelError naming the op."""
    edge = float_edge_ops(graph)
    for t in graph.input_tensors + graph.output_tensors:
        if t.dtype not in _IO_TYPES and not (t.dtype == "float32" and edge is not None):
            kind = "input" if t.index in graph.inputs else "output"
            raise ModelError(f"{where}: model {kind} '{t.name}' is {t.dtype}, not int8",
                             hint="quantize with `edgekit quantize` (int8 input and output)")
    float_ops = []
    for op in graph.operators:
        if op.op.startswith("FLEX") or op.op == "DELEGATE" or op.op.startswith("CUSTOM:Flex"):
            raise ModelError(f"{where}: op #{op.index} {op.op} is a TensorFlow (flex) op, not a TFLite builtin",
                             hint="microcontroller runtimes run builtin ops: convert without SELECT_TF_OPS")
        if edge and op.index in edge:
            continue
        bad = [graph.tensors[i] for i in op.inputs + op.outputs
               if i >= 0 and graph.tensors[i].dtype not in _INT8_GRAPH_TYPES]
        if bad:
            float_ops.append((op, bad[0]))
    if float_ops:
        # The converter wraps an op it cannot quantize in DEQUANTIZE/QUANTIZE: name the op itself.
        core = [(op, t) for op, t in float_ops if op.op not in ("QUANTIZE", "DEQUANTIZE")] or float_ops
        op, tensor = core[0]
        layer = graph.tensors[op.outputs[0]].name if op.outputs else "?"
        raise ModelError(
            f"{where}: op #{op.index} {op.op} (layer '{layer}') computes in {tensor.dtype}: it did not "
            "quantize to int8",
            hint="replace that layer with int8-friendly ops (Dense, Conv, pooling, ReLU, Add...)")


def convert_in_child(model: Any, calibration: np.ndarray | list[np.ndarray], *, where: str = "model",
                     timeout: float = CONVERT_TIMEOUT_S, activations: str = "int8",
                     decode: bool = False) -> bytes:
    """convert_int8 in a child process: `model` is a .keras/.h5 path or a live Keras model
    (saved to a temporary .keras first); with `decode`, a causal LM whose decode step converts
    (calibration: its token sequences). A crash (signal), an unexpected exception or a
    timeout in the child raises ModelError; nothing temporary is left behind."""
    with tempfile.TemporaryDirectory(prefix="edgekit-quantize-") as tmp_dir:
        tmp = Path(tmp_dir)
        if isinstance(model, (str, Path)):
            model_path = Path(model)
        else:
            model_path = tmp / "model.keras"
            try:
                model.save(model_path)
            except Exception as exc:
                raise ModelError(f"cannot save {where} for conversion: {_first_line(exc)}") from None
        calib_path, out_path, result_path = tmp / "calib.npz", tmp / "model.tflite", tmp / "result.json"
        arrays = calibration if isinstance(calibration, list) else [calibration]
        np.savez(calib_path, *(np.asarray(a, dtype=np.float32) for a in arrays))  # arr_0, arr_1... in order
        argv = [sys.executable, "-m", "edgekit.model.convert_worker", str(model_path), str(calib_path),
                str(out_path), str(result_path), where, activations] + (["decode"] if decode else [])
        env = {**os.environ, "TMPDIR": tmp_dir}  # the SavedModel and TF's scratch files land in tmp
        with open(tmp / "stderr.txt", "wb") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise ModelError(f"converting {where} to int8 did not finish within {timeout:g} s",
                                 hint="the converter is stuck on this model; " + _CONVERT_HINT) from None
            finally:  # timeout, Ctrl-C or any error: the child goes before its files do
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if returncode < 0:
            raise ModelError(f"TensorFlow's int8 converter crashed ({_signal_name(-returncode)}) "
                             f"while converting {where}", hint=_CONVERT_HINT)
        if returncode == 0 and out_path.is_file():
            return out_path.read_bytes()
        raise _child_error(result_path, returncode, where)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _child_error(result_path: Path, returncode: int, where: str) -> errors.EdgekitError:
    try:
        result = json.loads(result_path.read_text())
    except (OSError, ValueError):
        return ModelError(f"the int8 conversion of {where} failed (exit {returncode}, no result)",
                          hint=_CONVERT_HINT)
    cls = getattr(errors, result.get("error") or "", None)
    if isinstance(cls, type) and issubclass(cls, errors.EdgekitError):
        return cls(result["message"], hint=result.get("hint"))
    return ModelError(f"the int8 conversion of {where} failed: {result.get('message', '?')}", hint=_CONVERT_HINT)


def quantize_model(model: Any, calibration: np.ndarray | list[np.ndarray], *,
                   samples: int = DEFAULT_CALIBRATION_SAMPLES, where: str = "model",
                   activations: str = "int8", decode: bool = False) -> tuple[bytes, Graph]:
    """Quantize (in a child process, see convert_in_child) and verify; `model` is a live Keras
    model or the path of one, `calibration` one array or one per model input (with `decode`,
    a causal LM's token sequences: its decode step converts). Returns the .tflite bytes and
    its parsed graph."""
    if activations not in ACTIVATIONS:
        raise DataError(f"activations must be one of {', '.join(ACTIVATIONS)}, got {activations!r}")
    tflite_bytes = convert_in_child(model, calibration_subset(calibration, samples), where=where,
                                    activations=activations, decode=decode)
    graph = parse_graph(tflite_bytes)
    if not graph.operators:
        raise ModelError(f"{where} converts to a model without operators: its output is its input "
                         "(Identity, Reshape or Flatten only), so nothing would run on a device",
                         hint="give the model the layers that compute its result")
    verify_int8(graph, where)
    return tflite_bytes, graph
