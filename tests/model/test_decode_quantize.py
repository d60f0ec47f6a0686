"""The decode step of a Keras causal LM (edgekit.model.decode): built from the window model's own
layers, it gives the window's logits position by position (float), converts to a full-integer
model whose KV caches are state ports, and the int8 reference stepping it keeps the task's
accuracy; models it cannot step are refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.errors import ModelError
from edgekit.model.reference import int8_interpreter
from edgekit.model.tensor_data import dequantize
from edgekit.model.tflite_graph import parse_graph
from tests.conftest import import_keras, run_cli
from tests.model.causal_lms import DIM, VOCAB, T, causal_lm, trained_lm

pytestmark = pytest.mark.tf

def test_decode_step_matches_the_window_and_quantizes_with_its_caches_as_state(tmp_path) -> None:
    from edgekit.model.decode import decode_step_model, keras_stepper

    model, (x_train, _), (x_test, y_test) = trained_lm(import_keras())

    step = decode_step_model(model)
    assert [i.name for i in step.inputs] == ["token", "position", "k0", "v0", "k1", "v1"]
    assert step.output_names == ["logits", "k0_next", "v0_next", "k1_next", "v1_next"]
    window = np.asarray(model.predict(x_test, verbose=0))
    stepped = keras_stepper(step).run(x_test)
    assert np.abs(stepped - window).max() < 1e-4 * max(1.0, np.abs(window).max())
    float_acc = float((window.argmax(-1) == y_test).mean())
    assert float_acc > 0.7  # it learnt the rule (chance 1/20)

    model.save(tmp_path / "lm.keras")
    np.savez(tmp_path / "data.npz", x_train=x_train[:200], x_test=x_test, y_test=y_test)
    r = run_cli("quantize", tmp_path / "lm.keras", "--calib", tmp_path / "data.npz", "--decode", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    # scored on the test sequences, stepped, against the window model: per position
    assert report["tflite_model"] == str(tmp_path / "lm_step.tflite")
    assert report["agreement"]["definition"] == "same predicted class at each position"
    assert report["float_value"] == pytest.approx(float_acc)
    assert report["int8_value"] > float_acc - 0.05, report
    r = run_cli("evaluate", tmp_path / "lm_step.tflite", tmp_path / "data.npz", "--json")
    assert r.returncode == 0, r.stderr  # on the window's data: whole sequences, stepped
    assert json.loads(r.stdout)["value"] == pytest.approx(report["int8_value"])
    bad = x_test.copy()
    bad[0, 3] = VOCAB   # one past the table: refused up front, with the table's range
    np.savez(tmp_path / "bad.npz", x_test=bad, y_test=y_test)
    r = run_cli("evaluate", tmp_path / "lm_step.tflite", tmp_path / "bad.npz")
    assert r.returncode == 2 and f"whose table has ids 0..{VOCAB - 1}" in r.stderr, r.stderr
    tflite = (tmp_path / "lm_step.tflite").read_bytes()
    graph = parse_graph(tflite)
    assert [graph.io_name(i) for i in graph.inputs] == ["token", "position"]
    assert [graph.io_name(i) for i in graph.outputs] == ["logits"]
    assert sorted(sp.name for sp in graph.state) == ["k0", "k1", "v0", "v1"]
    for sp in graph.state:  # T rows of 2 heads x 8, int8, one scale with the row written into it
        assert graph.tensors[sp.input].shape == (1, T, 2, DIM // 2)
        assert graph.tensors[sp.input].dtype == "int8"

    ref = int8_interpreter(tflite, graph)
    assert ref.stepped
    out = graph.output_tensors[0]
    hits = []
    for seq, labels in zip(x_test, y_test):
        ref.reset_state()
        for t in range(T):
            q = ref.run_sample([np.array([[seq[t]]], np.int32), np.array([[t]], np.int32)])[0]
            hits.append(int(np.argmax(dequantize(q.reshape(-1), out.scale, out.zero_point)) == labels[t]))
    assert np.mean(hits) == pytest.approx(report["int8_value"])
    # state carries: without a reset the same sequence continues from its caches, not from empty
    again = ref.run_sample([np.array([[x_test[-1][0]]], np.int32), np.array([[0]], np.int32)])[0]
    ref.reset_state()
    fresh = ref.run_sample([np.array([[x_test[-1][0]]], np.int32), np.array([[0]], np.int32)])[0]
    assert np.array_equal(again, fresh)  # position 0 attends to itself alone: the cache rows after it are masked


@pytest.mark.parametrize("kind, message", [
    ("conv", "(Conv1D) mixes positions"),
    ("not causal", "is not causal self-attention"),
])
def test_models_it_cannot_step_are_refused(kind: str, message: str) -> None:
    from edgekit.model.decode import decode_step_model

    keras = import_keras()
    model = causal_lm(keras, causal=kind != "not causal", conv=kind == "conv")
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_step_model(model)
