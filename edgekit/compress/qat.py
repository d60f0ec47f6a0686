"""Quantization-aware training with Keras 3 fake-quant ops, converted with the learned ranges.

The model is rebuilt with fake quantization where the int8 model rounds: its input and each
Dense/Conv2D/merge output but the model's own go through a FakeQuant layer whose range (min, max) is a trained
variable, started from the calibration data; Dense kernels are fake-quantized per tensor and
Conv2D kernels per output channel, symmetric over [-127, 127] as TFLite quantizes them
(per-channel Dense fake-quant does not convert). TensorFlow's converter reads the
FakeQuantWithMinMaxVars ops, so the int8 model keeps the learned ranges (0 LSB from the Keras
fake-quant model was measured here).

The fake-quant layers are edgekit classes: the QAT model converts in this process (the
conversion child does not know them), and the .keras written for the user is the plain
architecture with the QAT-trained weights. Models with BatchNormalization are left to
post-training quantization (the converter folds BN into the kernel after fake-quant, which
breaks the learned kernel ranges).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.compress.distill import FineTune, fine_tune
from edgekit.compress.graph import LayerCall, call_layer, clone_layer, copy_call, layer_calls, rebuild

QUANTIZED_OUTPUTS = ("Dense", "Conv2D", "DepthwiseConv2D", "Add", "Concatenate", "Multiply", "Subtract")


def _layers() -> dict[str, Any]:
    """The fake-quant layer classes, defined on first use (Keras is imported lazily)."""
    if _CLASSES:
        return _CLASSES
    import keras
    from keras import ops
    from keras.quantizers import fake_quant_with_min_max_vars as fake_quant

    class FakeQuant(keras.layers.Layer):
        """Per-tensor int8 fake quantization with a trained range."""

        def __init__(self, init_min: float = -1.0, init_max: float = 1.0, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.init_min, self.init_max = float(init_min), float(init_max)

        def build(self, input_shape: Any) -> None:
            self.min_var = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.init_min),
                                           name="min")
            self.max_var = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.init_max),
                                           name="max")

        def call(self, x: Any) -> Any:
            return fake_quant(x, self.min_var, self.max_var, num_bits=8, narrow_range=False)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "init_min": self.init_min, "init_max": self.init_max}

    class QuantDense(keras.layers.Dense):
        """Dense with its kernel fake-quantized per tensor (symmetric, narrow range)."""

        def call(self, inputs: Any, training: Any = None) -> Any:
            m = ops.max(ops.abs(self.kernel))
            y = ops.matmul(inputs, fake_quant(self.kernel, -m, m, num_bits=8, narrow_range=True))
            if self.use_bias:
                y = ops.add(y, self.bias)
            return self.activation(y) if self.activation is not None else y

    class QuantConv2D(keras.layers.Conv2D):
        """Conv2D with its kernel fake-quantized per output channel (symmetric, narrow range)."""

        def call(self, inputs: Any) -> Any:
            m = ops.max(ops.abs(self.kernel), axis=(0, 1, 2))
            k = fake_quant(self.kernel, -m, m, num_bits=8, narrow_range=True, axis=-1)
            y = ops.conv(inputs, k, strides=self.strides, padding=self.padding, data_format=self.data_format,
                         dilation_rate=self.dilation_rate)
            if self.use_bias:
                y = ops.add(y, self.bias)
            return self.activation(y) if self.activation is not None else y

    _CLASSES.update(FakeQuant=FakeQuant, Dense=QuantDense, Conv2D=QuantConv2D)
    return _CLASSES


_CLASSES: dict[str, Any] = {}


def supports_qat(model: Any) -> str:
    """Why QAT is not done on `model` ("" when it is)."""
    kinds = {type(c.layer).__name__ for c in layer_calls(model).calls}
    if "BatchNormalization" in kinds:
        return "BatchNormalization (left to post-training quantization)"
    for c in layer_calls(model).calls:
        if type(c.layer).__name__ == "Conv2D" and c.layer.get_config().get("groups", 1) != 1:
            return "grouped Conv2D"
    return ""


def qat_model(model: Any, x_calib: np.ndarray) -> Any:
    """`model` rebuilt with fake quantization (see the module docstring), ranges started from
    the float activations on `x_calib`, weights copied."""
    import keras

    classes = _layers()
    graph = layer_calls(model)
    probe = keras.Model(model.inputs, [model.get_layer(c.layer.name).output for c in graph.calls])
    outs = probe.predict(x_calib, verbose=0, batch_size=256)
    ranges = {c.output: (min(0.0, float(np.min(o))), max(0.0, float(np.max(o)))) for c, o in zip(graph.calls, outs)}
    ranges[graph.input] = (min(0.0, float(np.min(x_calib))), max(0.0, float(np.max(x_calib))))

    def fq(tensor: int, x: Any) -> Any:
        lo, hi = ranges[tensor]
        return classes["FakeQuant"](lo, hi if hi > lo else lo + 1e-3)(x)

    def replace(call: LayerCall, inputs: list[Any]) -> Any:
        kind = type(call.layer).__name__
        if kind in ("Dense", "Conv2D"):
            layer = classes[kind].from_config(call.layer.get_config())
            out = call_layer(layer, inputs)
            layer.set_weights(call.layer.get_weights())
        elif kind in QUANTIZED_OUTPUTS:
            out = copy_call(call, inputs)
        else:
            return copy_call(call, inputs)
        # The output keeps the converter's own range (a softmax output has a fixed one).
        return out if call.output == graph.output else fq(call.output, out)

    quantized_input: list[Any] = []      # the input's FakeQuant output, made once

    def replace_with_input(call: LayerCall, inputs: list[Any]) -> Any:
        if graph.input in call.inputs:
            if not quantized_input:
                quantized_input.append(fq(graph.input, inputs[call.inputs.index(graph.input)]))
            inputs = [quantized_input[0] if i == graph.input else t for i, t in zip(call.inputs, inputs)]
        return replace(call, inputs)

    return rebuild(graph, graph.shapes[graph.input], replace_with_input, f"{model.name}_qat")


def strip_qat(qat: Any, plain: Any) -> Any:
    """A copy of `plain` (the architecture without fake quantization) with `qat`'s trained weights."""
    graph = layer_calls(plain)
    names = {c.layer.name for c in graph.calls}
    trained = {layer.name: layer.get_weights() for layer in qat.layers if layer.name in names}

    def replace(call: LayerCall, inputs: list[Any]) -> Any:
        layer = clone_layer(call.layer)
        out = call_layer(layer, inputs)
        layer.set_weights(trained.get(call.layer.name, call.layer.get_weights()))
        return out

    return rebuild(graph, graph.shapes[graph.input], replace, plain.name)


def qat_fine_tune(model: Any, teacher_out: np.ndarray, data: Any, tune: FineTune) -> tuple[Any, bytes, Any] | None:
    """Fine-tune `model` with fake quantization (distilled like every fine-tune) and convert it
    with its learned ranges; returns (plain model with the trained weights, .tflite, graph), or
    None when the model is not one QAT handles here."""
    from edgekit.model.quantize import DEFAULT_CALIBRATION_SAMPLES, calibration_subset, convert_int8, verify_int8
    from edgekit.model.tflite_graph import parse_graph

    if supports_qat(model):
        return None
    qmodel = qat_model(model, data.x_calib)
    fine_tune(qmodel, teacher_out, data.x_train, data.y_train, data.task,
              FineTune(tune.epochs, tune.learning_rate / 4, tune.batch, tune.alpha, tune.seed))
    tflite = convert_int8(qmodel, calibration_subset(data.x_calib, DEFAULT_CALIBRATION_SAMPLES), where="QAT model")
    graph = parse_graph(tflite)
    verify_int8(graph, "QAT model")
    return strip_qat(qmodel, model), tflite, graph


__all__ = ["qat_model", "qat_fine_tune", "strip_qat", "supports_qat"]
