"""A classifier that ends in argmax (an int32 class-id output, ARG_MAX) is scored as the classifier
it is: accuracy and a confusion matrix from the ids, not the regression MAE of the numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import import_keras, run_cli

pytestmark = [pytest.mark.tf, pytest.mark.toolchain, pytest.mark.qemu]
BOARD = "qemu-netduinoplus2"


def test_argmax_classifier_is_scored_by_accuracy(tmp_path: Path) -> None:
    keras = import_keras()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, (3, 6))
    y = rng.integers(0, 3, 300)
    x = (centers[y] + rng.normal(0, 1, (300, 6))).astype(np.float32)
    inp = keras.Input((6,))
    logits = keras.layers.Dense(3)(keras.layers.Dense(12, activation="relu")(inp))
    trainer = keras.Model(inp, logits)
    trainer.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    trainer.fit(x[:200], y[:200], epochs=30, verbose=0)
    keras.Model(inp, keras.ops.argmax(logits, axis=-1)).save(tmp_path / "ids.keras")
    np.savez(tmp_path / "data.npz", x_train=x[:200], x_test=x[200:], y_test=y[200:])

    r = run_cli("quantize", tmp_path / "ids.keras", "--calib", tmp_path / "data.npz", "--json")
    assert r.returncode == 0, r.stderr
    quant = json.loads(r.stdout)   # quantize scores the class ids as a classifier too
    assert (quant["task"], quant["metric"]) == ("classification", "accuracy") and quant["int8_value"] > 0.8
    project = tmp_path / "fw"
    assert run_cli("generate", tmp_path / "ids.tflite", "--board", BOARD, "-o", project).returncode == 0
    assert run_cli("build", project).returncode == 0
    r = run_cli("hil", project, "--data", tmp_path / "data.npz", "--runs", "2", "--require-exact", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    task = report["task"]
    assert task["task"] == "classification" and task["metric"] == "accuracy"
    assert task["device"] == task["host_int8"] and task["device"] > 0.8
    assert np.asarray(task["confusion"]).sum() == 100
