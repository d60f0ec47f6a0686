"""Distillation targets, and quantization-aware training that converts to full int8 with the
ranges it learned."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.compress.distill import FineTune, distillation_targets, fine_tune
from edgekit.compress.qat import qat_model, supports_qat
from edgekit.model.quantize import convert_int8, verify_int8
from edgekit.model.tflite_graph import parse_graph
from tests.conftest import import_keras


def test_distillation_targets_mix_labels_and_teacher():
    teacher = np.array([[0.6, 0.4], [0.1, 0.9]], np.float32)
    t = distillation_targets("classification", np.zeros((2, 3)), np.array([0, 0]), teacher, 0.5)
    np.testing.assert_allclose(t, [[0.8, 0.2], [0.55, 0.45]])
    logits = np.log(teacher)
    t = distillation_targets("classification", np.zeros((2, 3)), np.array([1, 1]), logits, 0.0, probabilities=False)
    np.testing.assert_allclose(t, teacher, rtol=1e-6)
    x = np.ones((2, 4), np.float32)
    t = distillation_targets("anomaly", x, np.zeros(2), np.zeros((2, 4), np.float32), 0.25)
    np.testing.assert_allclose(t, 0.25)
    t = distillation_targets("regression", x, np.array([[2.0], [4.0]]), np.zeros((2, 1), np.float32), 0.5)
    np.testing.assert_allclose(t, [[1.0], [2.0]])
    # next-word is a classifier over the vocabulary: word-id labels become one-hot, not regression targets
    t = distillation_targets("next-word", np.zeros((2, 6)), np.array([1, 0]), teacher, 0.5)
    np.testing.assert_allclose(t, [[0.3, 0.7], [0.55, 0.45]])


@pytest.mark.tf
def test_qat_converts_with_its_learned_ranges(digits):
    keras = import_keras()
    L = keras.layers
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, padding="same", activation="relu"),
                              L.MaxPooling2D(2), L.Flatten(), L.Dense(16, activation="relu"),
                              L.Dense(10, activation="softmax")])
    assert supports_qat(model) == ""
    x, y = digits["x_train"][:400], digits["y_train"][:400]
    q = qat_model(model, digits["x_calib"])
    fine_tune(q, model.predict(x, verbose=0), x, y, "classification", FineTune(epochs=2, learning_rate=0.01))
    fakes = [layer for layer in q.layers if type(layer).__name__ == "FakeQuant"]
    assert len(fakes) == 3          # input, conv output, first dense output (not the softmax output)
    fakes[1].max_var.assign(2.5)    # a range no calibration would give: the int8 model must carry it
    lo, hi = float(fakes[0].min_var.numpy()), float(fakes[0].max_var.numpy())
    graph = parse_graph(convert_int8(q, digits["x_calib"][:50]))
    verify_int8(graph, "QAT model")
    assert np.isclose(graph.input_tensors[0].scale, (hi - lo) / 255, rtol=1e-3)
    conv = next(op for op in graph.operators if op.op == "CONV_2D")
    assert np.isclose(graph.tensors[conv.outputs[0]].scale, 2.5 / 255, rtol=1e-3)
    assert not {"QUANTIZE", "DEQUANTIZE"} & set(graph.op_names())
