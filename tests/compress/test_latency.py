"""The latency check on the virtual board (compress --max-latency-ms): QEMU's instruction counts
(-icount shift=0, no wall clock) against the prediction from MACs, and the gate when the
measurement is over the budget the prediction met."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekit.boards import load_board
from edgekit.compress.budget import board_budget, footprint
from edgekit.compress.latency import check_latency
from edgekit.data import save_dataset
from edgekit.model.quantize import convert_int8
from edgekit.model.tflite_graph import parse_graph
from edgekit.runtimes.registry import get_runtime
from tests.conftest import assert_clean_error, import_keras, run_cli

# The prediction is a screening figure: a straight line through two zoo models' instruction
# counts. On a plain MLP (matrix products only) it must be within this factor of the count.
PREDICTION_FACTOR = 2.0


@pytest.mark.tf
@pytest.mark.toolchain
@pytest.mark.qemu
def test_virtual_board_counts_instructions_close_to_the_prediction(digits_mlp, digits, digits_npz, tmp_path):
    model, _ = digits_mlp
    board = load_board("nucleo-f446re")
    tflite = convert_int8(model, digits["x_calib"][:50])
    fit = footprint(tflite, parse_graph(tflite), board, board_budget(board))
    rt = get_runtime(fit.runtime)
    predicted = fit.macs * rt.instructions_per_mac + rt.invoke_instructions
    path = tmp_path / "mlp.tflite"
    path.write_bytes(tflite)
    check = check_latency(path, digits_npz, board, fit.runtime)
    assert check.instructions is not None and check.ms_on_board is not None, check.note
    assert predicted / PREDICTION_FACTOR <= check.instructions <= predicted * PREDICTION_FACTOR, (predicted, check)
    # instructions -> ms at the target's clock, one instruction per cycle
    assert check.ms_on_board == round(check.instructions / board.max_clock_hz * 1e3, 3)
    assert "qemu-netduinoplus2" in check.note and "180 MHz" in check.note


@pytest.mark.tf
@pytest.mark.toolchain
@pytest.mark.qemu
def test_predicted_to_fit_but_timed_over_the_budget_exits_1(tmp_path):
    """Pooling does a lot of work per MAC the prediction counts: 32x32x8 max-pooled, average-pooled,
    then a tiny Dense is predicted at ~0.18 ms on a NUCLEO-F446RE and timed at ~1.2 ms."""
    keras = import_keras()
    L = keras.layers
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32, 32, 8)), L.MaxPooling2D(2), L.AveragePooling2D(2), L.Flatten(),
                              L.Dense(2, activation="softmax")])
    model.save(tmp_path / "pool.keras")
    x = np.random.default_rng(0).random((64, 32, 32, 8), dtype=np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype(np.int64)
    data = tmp_path / "pool.npz"
    save_dataset(data, {"x_train": x, "y_train": y, "x_test": x[:16], "y_test": y[:16]})
    out = tmp_path / "out"
    r = run_cli("compress", tmp_path / "pool.keras", "--data", data, "--board", "nucleo-f446re",
                "--max-latency-ms", "0.5", "--max-drop", "100", "--methods", "prune", "-o", out)
    assert_clean_error(r, 1, "original fits by prediction", "but the virtual board times it at",
                       "over --max-latency-ms 0.5")
    report = json.loads((out / "compress.json").read_text())
    check = report["latency_check"]
    assert report["chosen"] == "original" and report["candidates"][0]["latency_ms"] <= 0.5
    assert check["ms_on_board"] > 0.5 and check["instructions"] > 0
    assert Path(out / "compressed.tflite").is_file()
