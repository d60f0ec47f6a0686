"""The pipeline on the RISC-V virtual board (qemu-riscv32: RV32IMC, the ESP32-C3's ISA): the zoo's
MLPerf Tiny models (DS-CNN keyword spotting, the anomaly autoencoder) and sine, and every bundled
example, generated, built for rv32imc and validated with `hil --require-exact` against the host
TFLM reference; and `compare`, which runs edgekit-rt there and says why tflm is left out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

pytestmark = [pytest.mark.toolchain, pytest.mark.qemu]
BOARD = "qemu-riscv32"


def _exact_on_the_board(model: Path, project: Path, *hil_args: str | Path) -> dict:
    r = run_cli("generate", model, "--board", BOARD, "-o", project)
    assert r.returncode == 0, r.stderr
    r = run_cli("build", project)
    assert r.returncode == 0, r.stderr
    r = run_cli("hil", project, "--require-exact", "--runs", "3", "--warmup", "1", "--json", *hil_args)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["device"]["board_id"] == BOARD and report["device"]["runtime"] == "edgekit-rt"
    assert report["agreement"]["exact_share"] == 1.0 and report["agreement"]["max_abs_diff_lsb"] == 0
    return report


@pytest.mark.parametrize("name", ["sine", "ds_cnn_kws", "ad_autoencoder"])
def test_benchmark_models_are_exact(benchmark_model, tmp_path: Path, name: str) -> None:
    model = benchmark_model(name)
    from edgekit.model.tflite_graph import load_graph

    tin = load_graph(model).input_tensors[0]
    q = np.random.default_rng(0).integers(-128, 128, size=(8, *tin.shape[1:]))
    np.savez(tmp_path / "x.npz", x=((q - tin.zero_point) * tin.scale).astype(np.float32))
    report = _exact_on_the_board(model, tmp_path / "fw", "--data", tmp_path / "x.npz")
    assert report["virtual"] and report["latency"]["counts"]["min"] > 0   # counts are QEMU instructions


@pytest.mark.tf
@pytest.mark.parametrize("example", ["sine", "gesture", "anomaly", "digits", "text"])
def test_bundled_examples_are_exact(trained_example, tmp_path: Path, example: str) -> None:
    _exact_on_the_board(trained_example(example).tflite, tmp_path / "fw", "--samples", "40")


def test_compare_runs_edgekit_rt_and_says_why_tflm_is_left_out(benchmark_model, tmp_path: Path) -> None:
    r = run_cli("compare", benchmark_model("sine"), "--board", BOARD, "--samples", "4", "--runs", "3",
                "-o", tmp_path / "cmp", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert [v["label"] for v in doc["variants"]] == ["edgekit-rt"] and doc["all_exact"]
    assert doc["unit"] == "instructions"
    assert doc["notes"] == ["tflm left out: TFLM is C++ and Debian's riscv64-unknown-elf toolchain has no C++ "
                            "standard library"]
