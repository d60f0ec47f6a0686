"""`hil --samples N` on an anomaly detector whose test set is sorted by label: a seeded,
stratified draw keeps both classes, so the ROC AUC is measured (the first N were all normal,
and the run ended in an error with no exactness reported)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

pytestmark = [pytest.mark.toolchain, pytest.mark.qemu]
BOARD = "qemu-netduinoplus2"


def test_samples_of_a_sorted_anomaly_set_measure_auc(benchmark_model: Callable[[str], Path], tmp_path: Path) -> None:
    model = benchmark_model("ad_autoencoder")
    project = tmp_path / "fw"
    assert run_cli("generate", model, "--board", BOARD, "-o", project).returncode == 0
    assert run_cli("build", project).returncode == 0
    from edgekit.model.tflite_graph import load_graph

    n_in = load_graph(model).input_tensors[0].shape[1]
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.5, (40, n_in)), rng.normal(0, 3.0, (4, n_in))]).astype(np.float32)
    y = np.array([0] * 40 + [1] * 4)
    np.savez(tmp_path / "test.npz", x_test=x, y_test=y)
    args = ("hil", project, "--data", tmp_path / "test.npz", "--samples", "6", "--task", "anomaly",
            "--runs", "0", "--require-exact", "--json")
    r = run_cli(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["samples_measured"] == 6 and report["agreement"]["exact_share"] == 1.0
    assert report["task"]["metric"] == "roc_auc" and report["task"]["device"] is not None
    assert "6 of 44 samples: seeded draw, stratified by class" in report["data"]
    again = json.loads(run_cli(*args).stdout)
    assert again["task"]["device"] == report["task"]["device"]   # the same draw every run
