"""A Keras model of two inputs (an image and scalar features) and two outputs (a fault class and
a remaining-life regression head, the usual predictive-maintenance model) from `edgekit deploy`
to the virtual board: one data array per input and per output, named after them; inputs and
outputs in the Keras model's order although TF's converter sorts them otherwise; each output's
metric in the quantization report and the hil report; every output byte equal to TFLM's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_clean_error, run_cli

pytestmark = [pytest.mark.tf, pytest.mark.toolchain, pytest.mark.qemu]


def _data(n: int, rng: np.random.Generator, split: str) -> dict[str, np.ndarray]:
    # Named so that sorting by name would swap both the inputs and the outputs.
    fault = rng.integers(0, 3, size=n)   # each fault shakes harder
    vibration = (rng.normal(size=(n, 8, 8, 1)) * (0.5 + fault[:, None, None, None])).astype(np.float32)
    load = rng.uniform(0, 1, size=(n, 3)).astype(np.float32)
    life = (1.0 - load.mean(axis=1, keepdims=True) - 0.3 * fault[:, None]).astype(np.float32)
    return {f"x_{split}_vibration": vibration, f"x_{split}_load": load,
            f"y_{split}": fault, f"y_{split}_remaining_life": life}   # plain y_<split>: the first output


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import keras

    keras.utils.set_random_seed(0)
    tmp = tmp_path_factory.mktemp("multi_io")
    rng = np.random.default_rng(0)
    data = {**_data(600, rng, "train"), **_data(200, rng, "test")}
    np.savez(tmp / "data.npz", **data)
    vibration = keras.Input((8, 8, 1), name="vibration")
    load = keras.Input((3,), name="load")
    h = keras.layers.Conv2D(8, 3, activation="relu")(vibration)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.Concatenate()([h, keras.layers.Dense(8, activation="relu")(load)])
    fault = keras.layers.Dense(3, activation="softmax", name="fault")(h)
    life = keras.layers.Dense(1, name="remaining_life")(h)
    model = keras.Model([vibration, load], [fault, life])
    model.compile("adam", ["sparse_categorical_crossentropy", "mse"])
    model.fit([data["x_train_vibration"], data["x_train_load"]], [data["y_train"], data["y_train_remaining_life"]],
              epochs=30, batch_size=32, verbose=0)
    model.save(tmp / "model.keras")
    return tmp / "model.keras", tmp / "data.npz"


def test_two_inputs_two_outputs_deploy_exact_with_a_metric_per_output(model_and_data: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    from edgekit.model.tflite_graph import load_graph

    model, data = model_and_data
    out = tmp_path / "out"
    r = run_cli("deploy", model, "--data", data, "-o", out, "--require-exact")
    assert r.returncode == 0, r.stdout + r.stderr
    # The Keras order, not the converter's (it sorts inputs by name and lists outputs otherwise).
    graph = load_graph(out / "model.tflite")
    assert [graph.io_name(i) for i in graph.inputs] == ["vibration", "load"]
    assert [graph.io_name(i) for i in graph.outputs] == ["fault", "remaining_life"]
    quant = json.loads((out / "model.quant.json").read_text())
    assert [o["name"] for o in quant["outputs"]] == ["fault", "remaining_life"]
    assert [o["metric"] for o in quant["outputs"]] == ["accuracy", "mae"]
    assert quant["outputs"][0]["int8_value"] > 0.6        # three classes: chance is 1/3
    report = json.loads((out / "firmware-qemu-netduinoplus2" / "hil-report" / "report.json").read_text())
    assert report["status"] == "complete" and report["agreement"]["exact_share"] == 1.0
    heads = {o["name"]: o for o in report["outputs"]}
    assert list(heads) == ["fault", "remaining_life"]
    assert heads["fault"]["task"]["metric"] == "accuracy" and heads["remaining_life"]["task"]["metric"] == "mae"
    for head in heads.values():
        assert head["agreement"]["exact_share"] == 1.0
        assert head["task"]["device"] == head["task"]["host_int8"]   # exact outputs, the same metric
        assert head["task"]["float"] is not None
    assert heads["remaining_life"]["task"]["device"] < 0.2
    assert report["task"] == heads["fault"]["task"]
    md = (out / "firmware-qemu-netduinoplus2" / "hil-report" / "report.md").read_text()
    assert "## Each output" in md and "| remaining_life | mae |" in md


def test_missing_input_array_is_one_line(model_and_data: tuple[Path, Path], tmp_path: Path) -> None:
    model, data = model_and_data
    arrays = dict(np.load(data))
    del arrays["x_train_load"]
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    assert_clean_error(run_cli("quantize", model, "--calib", bad, "-o", tmp_path / "m.tflite"), 2,
                       "no x_train_vibration, x_train_load arrays", "x_train_<input name>")
    assert not (tmp_path / "m.tflite").exists()
