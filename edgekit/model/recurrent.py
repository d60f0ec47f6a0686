"""Conversion twins of Keras 3 models with Embedding, LSTM, GRU, SimpleRNN and Bidirectional layers.

TensorFlow's converter cannot take these layers to full int8 as Keras 3 builds them (an LSTM
or GRU becomes a WHILE loop whose int8 calibration crashes; Embedding brings a SELECT TFLM
lacks). The twin is the same model, same weights, with those layers replaced by the layers of
edgekit.model.recurrent_layers, which convert to ops TFLM runs in int8:

| Keras 3 layer | int8 ops in the .tflite |
|---|---|
| Embedding | GATHER (int8 table, int32 ids: the model input stays int32) |
| LSTM | UNIDIRECTIONAL_SEQUENCE_LSTM (+ STRIDED_SLICE for the last step) |
| GRU | UNPACK, FULLY_CONNECTED, ADD, SUB, MUL, LOGISTIC, TANH (+ PACK for sequences) |
| SimpleRNN | UNPACK, FULLY_CONNECTED, ADD, TANH or RELU (+ PACK for sequences) |
| Bidirectional(one of those) | each direction as above, GATHER to reverse time, CONCATENATION / ADD / MUL |

Every other layer is kept as it is (the same layer object). The twin is checked against the
original in float on calibration data, layer by layer, before anything is converted.

Masks: `Embedding(mask_zero=True)` is refused in a model with a recurrent layer (a masked LSTM
or GRU skips padded steps, which no int8 op does: pad at the start, or train without masks);
elsewhere the mask is ignored, and the float check catches a layer that used it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.errors import ModelError

RECURRENT_KINDS = ("LSTM", "GRU", "SimpleRNN")
TWIN_KINDS = ("Embedding", *RECURRENT_KINDS, "Bidirectional")
CHECK_SAMPLES = 64  # calibration samples the float check runs
_TOLERANCE = 1e-4  # max abs difference, relative to max(1, |Keras output|)


@dataclass
class Rewrite:
    """One layer of the original model and its replacement in the twin."""

    name: str
    kind: str  # the Keras class name, one of TWIN_KINDS
    original: Any
    twin: Any


@dataclass
class ConversionTwin:
    """A Keras model ready for int8 conversion and what was rewritten to make it."""

    model: Any
    rewrites: list[Rewrite]
    input_dtype: str  # "int32" when the input feeds an Embedding (token ids), else the model's


def needs_twin(model: Any) -> bool:
    """Whether `model` has a layer the twin rewrites (one of TWIN_KINDS)."""
    return any(type(layer).__name__ in TWIN_KINDS for layer in _all_layers(model))


def _is_model(layer: Any) -> bool:
    return type(layer).__name__ in ("Sequential", "Functional", "Model") and hasattr(layer, "layers")


def _all_layers(model: Any) -> list[Any]:
    """The model's layers, those of nested models included."""
    out = []
    for layer in model.layers:
        out.append(layer)
        if _is_model(layer):
            out.extend(_all_layers(layer))
    return out


def _refuse(where: str, layer: Any, why: str, hint: str) -> ModelError:
    return ModelError(f"{where}: layer '{layer.name}' ({type(layer).__name__}) cannot be converted to int8: {why}",
                      hint=hint)


def _activation_name(fn: Any) -> str:
    return str(getattr(fn, "__name__", fn))


def _check_recurrent(layer: Any, where: str) -> None:
    """Options the rewrites cannot honour: one clear error naming the layer."""
    if layer.stateful:
        raise _refuse(where, layer, "stateful=True",
                      "rebuild it with stateful=False: edgekit starts every sequence from a zero state")
    if layer.return_state:
        raise _refuse(where, layer, "return_state=True", "return only the outputs (return_state=False)")
    cell = layer.cell
    kind = type(layer).__name__
    if kind == "SimpleRNN":
        act = _activation_name(cell.activation)
        if act not in ("tanh", "relu"):
            raise _refuse(where, layer, f"activation={act!r}", "use activation 'tanh' or 'relu'")
        return
    act, rec = _activation_name(cell.activation), _activation_name(cell.recurrent_activation)
    allowed = ("tanh", "sigmoid") if kind == "GRU" else ("tanh",)
    rec_allowed = ("sigmoid",) if kind == "LSTM" else ("sigmoid", "tanh")
    if act not in allowed or rec not in rec_allowed:
        raise _refuse(where, layer, f"activation={act!r}, recurrent_activation={rec!r}",
                      f"use activation in {allowed} and recurrent_activation in {rec_allowed} "
                      "(what the int8 kernels compute)")


def _lstm(layer: Any, *, go_backwards: bool | None = None) -> Any:
    from edgekit.model.recurrent_layers import FusedLSTM

    weights = layer.get_weights()
    kernel, recurrent = weights[0], weights[1]
    bias = weights[2] if layer.cell.use_bias else np.zeros(kernel.shape[1], np.float32)
    return FusedLSTM(kernel, recurrent, bias, return_sequences=layer.return_sequences,
                     go_backwards=layer.go_backwards if go_backwards is None else go_backwards,
                     name=f"{layer.name}_twin")


def _gru(layer: Any, *, time_order_output: bool = False) -> Any:
    from edgekit.model.recurrent_layers import UnrolledGRU

    weights = layer.get_weights()
    cell = layer.cell
    return UnrolledGRU(weights[0], weights[1], weights[2] if cell.use_bias else None,
                       reset_after=cell.reset_after, activation=_activation_name(cell.activation),
                       recurrent_activation=_activation_name(cell.recurrent_activation),
                       return_sequences=layer.return_sequences, go_backwards=layer.go_backwards,
                       time_order_output=time_order_output, name=f"{layer.name}_twin")


def _simple_rnn(layer: Any, *, time_order_output: bool = False) -> Any:
    from edgekit.model.recurrent_layers import UnrolledSimpleRNN

    weights = layer.get_weights()
    return UnrolledSimpleRNN(weights[0], weights[1], weights[2] if layer.cell.use_bias else None,
                             activation=_activation_name(layer.cell.activation),
                             return_sequences=layer.return_sequences, go_backwards=layer.go_backwards,
                             time_order_output=time_order_output, name=f"{layer.name}_twin")


def _recurrent(layer: Any, *, backward_half: bool = False) -> Any:
    """The twin of an LSTM, GRU or SimpleRNN; `backward_half` of a Bidirectional: an unrolled
    layer then stacks its sequence in time order (Merged does not reverse it)."""
    kind = type(layer).__name__
    if kind == "LSTM":
        return _lstm(layer)
    return (_gru if kind == "GRU" else _simple_rnn)(layer, time_order_output=backward_half)


def _bidirectional(layer: Any, where: str) -> Any:
    from edgekit.model.recurrent_layers import Merged

    if layer.merge_mode not in ("concat", "sum", "mul", "ave"):
        raise _refuse(where, layer, f"merge_mode={layer.merge_mode!r} gives two outputs",
                      "use merge_mode 'concat', 'sum', 'mul' or 'ave'")
    halves = []
    for half in (layer.forward_layer, layer.backward_layer):
        kind = type(half).__name__
        if kind not in RECURRENT_KINDS:
            raise _refuse(where, layer, f"it wraps a {kind}", "wrap an LSTM, a GRU or a SimpleRNN")
        _check_recurrent(half, where)
        halves.append(half)
    forward, backward = halves
    fwd, bwd = _recurrent(forward), _recurrent(backward, backward_half=True)
    return Merged(fwd, bwd, layer.merge_mode, layer.return_sequences, name=f"{layer.name}_twin")


def _rewrite(layer: Any, where: str) -> Any:
    from edgekit.model.recurrent_layers import TableGather

    kind = type(layer).__name__
    if kind == "Embedding":
        return TableGather(layer.get_weights()[0], name=f"{layer.name}_twin")
    if kind == "Bidirectional":
        return _bidirectional(layer, where)
    _check_recurrent(layer, where)
    return _recurrent(layer)


def _check_model(model: Any, where: str) -> None:
    layers = _all_layers(model)
    # clone_model rewrites the top level only: a rewritable layer inside a nested model would be missed.
    nested = [la for la in model.layers if _is_model(la)
              and any(type(x).__name__ in TWIN_KINDS for x in _all_layers(la))]
    if nested:
        raise _refuse(where, nested[0], "it is a nested model holding recurrent or Embedding layers",
                      "build one flat Sequential or functional model")
    recurrent = [la for la in layers if type(la).__name__ in (*RECURRENT_KINDS, "Bidirectional")]
    if not recurrent:
        return
    for layer in layers:
        if type(layer).__name__ == "Masking" or (type(layer).__name__ == "Embedding" and layer.mask_zero):
            raise _refuse(where, layer, "it masks time steps for a recurrent layer, which no int8 op does",
                          "train without masking (mask_zero=False, no Masking layer), padding at the start")


def _feeds_embedding(model: Any) -> bool:
    """Whether the model input goes straight into an Embedding (then it holds token ids)."""
    if type(model).__name__ == "Sequential":
        return bool(model.layers) and type(model.layers[0]).__name__ == "Embedding"
    inp = model.inputs[0]
    for layer in model.layers:
        if type(layer).__name__ != "Embedding":
            continue
        for node in getattr(layer, "_inbound_nodes", []):
            if any(t is inp for t in node.input_tensors):
                return True
    return False


def build_twin(model: Any, where: str = "model") -> ConversionTwin:
    """The conversion twin of `model` (see the module docstring); ModelError naming the layer
    for an option the rewrite cannot honour."""
    import keras

    _check_model(model, where)
    rewrites: list[Rewrite] = []

    def clone(layer: Any) -> Any:
        if type(layer).__name__ not in TWIN_KINDS:
            return layer  # shared, weights and all
        twin = _rewrite(layer, where)
        rewrites.append(Rewrite(layer.name, type(layer).__name__, layer, twin))
        return twin

    token_ids = _feeds_embedding(model)
    input_dtype = "int32" if token_ids else str(model.inputs[0].dtype)
    shape = tuple(model.inputs[0].shape[1:])
    new_input = keras.Input(shape, dtype=input_dtype, name=model.inputs[0].name.split(":")[0])
    try:
        twin = keras.models.clone_model(model, input_tensors=new_input, clone_function=clone)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{where}: cannot rebuild the model with int8-friendly recurrent layers: "
                         f"{' '.join(str(exc).split())[:200]}",
                         hint="build one flat Sequential or functional model") from None
    return ConversionTwin(twin, rewrites, input_dtype)


def model_inputs(x: np.ndarray, dtype: str) -> np.ndarray:
    """Calibration or test data as the twin takes it (token ids as int32)."""
    return np.asarray(x).astype(dtype, copy=False)


def check_twin(model: Any, twin: ConversionTwin, x: np.ndarray, where: str = "model") -> float:
    """Run the original and the twin in float on up to CHECK_SAMPLES samples of `x`: each
    rewritten layer on the original's own inputs to it, then the whole model. ModelError
    ("edgekit's rewrite of layer X disagrees with Keras") past the tolerance; returns the
    largest difference seen."""
    import keras

    x = np.asarray(x, dtype=np.float32)[:CHECK_SAMPLES]
    worst = 0.0
    try:  # each layer's own input, as the original model computes it
        probe = keras.Model(model.inputs, [r.original.input for r in twin.rewrites])
        layer_inputs = probe.predict(x, verbose=0, batch_size=256)
        if len(twin.rewrites) == 1:
            layer_inputs = [layer_inputs]
    except Exception:  # a shared or nested layer has no single input: the model check still runs
        layer_inputs = None
    if layer_inputs is not None:
        for rewrite, inp in zip(twin.rewrites, layer_inputs):
            twin_inp = model_inputs(inp, "int32") if rewrite.kind == "Embedding" else inp
            worst = max(worst, _compare(np.asarray(rewrite.original(inp)), np.asarray(rewrite.twin(twin_inp)),
                                        f"{where}: edgekit's rewrite of layer '{rewrite.name}' ({rewrite.kind})"))
    names = ", ".join(f"'{r.name}'" for r in twin.rewrites)
    masked = [r.name for r in twin.rewrites if r.kind == "Embedding" and r.original.mask_zero]
    hint = (f"Embedding '{masked[0]}' has mask_zero=True, which a later layer uses and the int8 model "
            "cannot: train it with mask_zero=False" if masked else _HINT)
    expected = model.predict(x, verbose=0, batch_size=256)
    got = twin.model.predict(model_inputs(x, twin.input_dtype), verbose=0, batch_size=256)
    return max(worst, _compare(expected, got, f"{where}: edgekit's rewrite of layer(s) {names}", hint))


_HINT = "report this model to edgekit; meanwhile replace the layer"


def _compare(expected: np.ndarray, got: np.ndarray, what: str, hint: str = _HINT) -> float:
    expected, got = np.asarray(expected, np.float64), np.asarray(got, np.float64)
    if expected.shape != got.shape:
        raise ModelError(f"{what} disagrees with Keras: output shape {got.shape}, Keras gives {expected.shape}",
                         hint=hint)
    diff = float(np.max(np.abs(expected - got))) if expected.size else 0.0
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    if not diff <= _TOLERANCE * scale:  # NaN fails too
        raise ModelError(f"{what} disagrees with Keras in float (max abs difference {diff:.3g})", hint=hint)
    return diff
