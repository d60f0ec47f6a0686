"""`quantize --activations int16`: TF's 16x8 mode (int16 activations and I/O, int8 weights,
int64 biases), reported as such, closer to float than int8."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.tf


def test_activations_int16_makes_a_16x8_model(tmp_path: Path) -> None:
    import keras

    from edgekit.model.tflite_graph import load_graph

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 16, 3)).astype(np.float32)
    y = np.tanh(x.sum(axis=(1, 2)) / 8)[:, None].astype(np.float32)
    model = keras.Sequential([keras.Input((16, 3)), keras.layers.Conv1D(8, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(x, y, epochs=5, verbose=0)
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "d.npz", x_train=x[:200], y_train=y[:200], x_test=x[200:], y_test=y[200:])
    reports = {}
    for act in ("int8", "int16"):
        r = run_cli("quantize", tmp_path / "m.keras", "--calib", tmp_path / "d.npz", "-o", tmp_path / f"{act}.tflite",
                    "--activations", act, "--json")
        assert r.returncode == 0, r.stderr
        reports[act] = json.loads(r.stdout)
    q16 = reports["int16"]
    assert q16["activations"] == "int16" and q16["input"]["dtype"] == q16["output"]["dtype"] == "int16"
    graph = load_graph(tmp_path / "int16.tflite")
    assert {t.dtype for t in graph.tensors if t.is_constant} >= {"int8", "int64"}   # int8 weights, int64 biases
    assert all(t.dtype != "float32" for t in graph.tensors)
    # 16x8 is the more exact of the two: its metric closer to the float model's.
    assert abs(q16["int8_value"] - q16["float_value"]) <= abs(reports["int8"]["int8_value"] - q16["float_value"]) + 1e-3
    r = run_cli("quantize", tmp_path / "m.keras", "--calib", tmp_path / "d.npz", "--activations", "int4")
    assert r.returncode == 2 and "int4" in r.stderr
