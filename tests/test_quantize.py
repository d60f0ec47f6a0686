"""Quantization with real TensorFlow conversion, verification, reports, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import ModelError
from edgekit.model.quantize import quantize_model, verify_int8
from edgekit.model.tflite_graph import load_graph, parse_graph
from tests.conftest import assert_clean_error, import_keras

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def small_classifier(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny Conv1D classifier with a Flatten (the layer that brings dynamic-batch ops)."""
    keras = import_keras()
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 16, 2)).astype(np.float32)
    y = (x[:, :, 0].mean(axis=1) > 0).astype(np.int64)
    model = keras.Sequential([
        keras.Input((16, 2)),
        keras.layers.Conv1D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[:200], y[:200], epochs=5, verbose=0)
    d = tmp_path_factory.mktemp("small")
    model.save(d / "model.keras")
    np.savez(d / "data.npz", x_train=x[:200], y_train=y[:200], x_test=x[200:], y_test=y[200:])
    return d / "model.keras", d / "data.npz"


def test_quantize_cli_writes_verified_int8_model_and_report(cli, small_classifier, tmp_path: Path) -> None:
    model, data = small_classifier
    out = tmp_path / "m.tflite"
    r = cli("quantize", model, "--calib", data, "-o", out, "--samples", "50")
    assert r.returncode == 0, r.stderr
    assert "accuracy on 100 test samples" in r.stdout
    graph = load_graph(out)
    verify_int8(graph, str(out))
    assert graph.input_tensors[0].shape == (1, 16, 2)  # static batch 1
    # The static-batch export keeps the dynamic-shape plumbing of Flatten out of the graph.
    assert not {"SHAPE", "STRIDED_SLICE", "PACK"} & set(graph.op_names())
    report = json.loads(out.with_suffix(".quant.json").read_text())
    assert report["sha256"] == graph.sha256 and report["int8_backend"] == "tflm"
    assert report["task"] == "classification" and report["calibration"]["samples"] == 50
    assert 0 <= report["int8_value"] <= 1 and abs(report["int8_value"] - report["float_value"]) < 0.1
    assert report["agreement"]["share"] > 0.8


def test_evaluate_cli_matches_quantization_report(cli, small_classifier, tmp_path: Path) -> None:
    model, data = small_classifier
    out = tmp_path / "m.tflite"
    assert cli("quantize", model, "--calib", data, "-o", out).returncode == 0
    report = json.loads(out.with_suffix(".quant.json").read_text())
    for path, key in ((model, "float_value"), (out, "int8_value")):
        r = cli("evaluate", path, data, "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["value"] == pytest.approx(report[key], abs=1e-9)


def test_float_model_fails_int8_verification(small_classifier) -> None:
    from edgekit.model.keras_io import import_tensorflow, load_keras_model

    tf = import_tensorflow()
    model = load_keras_model(small_classifier[0])
    float_tflite = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    with pytest.raises(ModelError, match="model input .* is float32, not int8"):
        verify_int8(parse_graph(float_tflite), "float.tflite")


def test_op_that_does_not_quantize_is_named(tmp_path: Path) -> None:
    keras = import_keras()
    inputs = keras.Input((8,))
    # Cumulative sum has no int8 TFLite kernel: full-integer conversion must refuse it.
    outputs = keras.layers.Dense(4)(keras.ops.cumsum(inputs, axis=-1))
    model = keras.Model(inputs, outputs)
    with pytest.raises(ModelError) as exc:
        quantize_model(model, np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32))
    assert "int8" in str(exc.value)
    assert "umsum" in str(exc.value).lower() or "CUMSUM" in str(exc.value)


@pytest.mark.parametrize("case", ["missing_model", "corrupt_model", "missing_calib", "corrupt_calib",
                                  "empty_calib", "misshaped_calib", "bad_samples"])
def test_quantize_bad_input_is_one_clear_line_and_writes_nothing(cli, small_classifier, tmp_path: Path,
                                                                  case: str) -> None:
    model, data = small_classifier
    out = tmp_path / "out.tflite"
    args: list = []
    expect: tuple[str, ...] = ()
    if case == "missing_model":
        args, expect = [tmp_path / "nope.keras", "--calib", data], ("Keras model not found",)
    elif case == "corrupt_model":
        bad = tmp_path / "bad.keras"
        bad.write_bytes(b"PK\x03\x04 definitely not a keras archive")
        args, expect = [bad, "--calib", data], (f"{bad} is not a valid Keras model",)
    elif case == "missing_calib":
        args, expect = [model, "--calib", tmp_path / "nope.npz"], ("data file not found",)
    elif case == "corrupt_calib":
        bad = tmp_path / "bad.npz"
        bad.write_bytes(b"garbage")
        args, expect = [model, "--calib", bad], ("not a readable .npz",)
    elif case == "empty_calib":
        empty = tmp_path / "empty.npz"
        np.savez(empty, x_calib=np.zeros((0, 16, 2), np.float32))
        args, expect = [model, "--calib", empty], ("'x_calib' is empty",)
    elif case == "misshaped_calib":
        wrong = tmp_path / "wrong.npz"
        np.savez(wrong, x=np.zeros((10, 8, 2), np.float32))
        args, expect = [model, "--calib", wrong], ("shape (10, 8, 2)", "(16, 2)")
    elif case == "bad_samples":
        args, expect = [model, "--calib", data, "--samples", "0"], ("--samples must be positive",)
    assert_clean_error(cli("quantize", *args, "-o", out), 2, *expect)
    assert not out.exists() and not out.with_suffix(".quant.json").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_evaluate_data_shape_mismatch(cli, small_classifier, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x_test=np.zeros((5, 3), np.float32), y_test=np.zeros(5))
    assert_clean_error(cli("evaluate", small_classifier[0], wrong), 2, "(5, 3)", "(16, 2)")


def test_unknown_example(cli) -> None:
    assert_clean_error(cli("train", "weather"), 2, "unknown example 'weather'", "gesture")
