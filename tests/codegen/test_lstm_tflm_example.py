"""TFLM's own published int8 LSTM example (MNIST LSTM, tests/fixtures/tflm_lstm) runs on
edgekit-rt byte for byte like tflite_micro: on the host, with the state reset before each
input and carried across inputs, and on the emulated Cortex-M4F (DSP and portable)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

import ekrt_harness as H

from edgekit.model.tflite_graph import load_graph

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "tflm_lstm" / "trained_lstm_int8.tflite"


def test_mnist_lstm_bit_exact_on_host(ekrt_build_dir: Path) -> None:
    tflite = MODEL.read_bytes()
    n, bad = H.compare(tflite, ekrt_build_dir, n_random=20, seed=9)
    assert bad == 0
    xs = H.test_inputs(load_graph(MODEL).input_tensors[0].size, 6, seed=10)
    exe = H.build_host(tflite, ekrt_build_dir)
    assert np.array_equal(H.run_host(exe, xs, keep_state=True), H.run_tflm(tflite, xs, keep_state=True))


@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_mnist_lstm_bit_exact_on_cortex_m4(dsp: bool, tmp_path: Path) -> None:
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed")
    import ekrt_bare_metal as bench

    inputs = bench.bench_inputs(load_graph(MODEL).input_tensors[0].size, 4)
    elf = bench.build_firmware(MODEL, tmp_path, inputs, dsp)
    instr, outs = bench.run_qemu(elf, timeout=120)
    assert instr > 0
    assert outs == bench.tflm_outputs(MODEL, inputs)


def test_mnist_lstm_exact_on_the_virtual_board(cli, tmp_path: Path) -> None:
    """generate (auto picks edgekit-rt) -> build -> hil --require-exact on QEMU: every INFER is
    an independent sequence (the firmware resets the state, the host reference resets TFLM),
    so the 100 % agreement below fails if either side carries state between inputs."""
    for tool in ("qemu-system-arm", "arm-none-eabi-gcc", "cmake", "ninja"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    model = tmp_path / "lstm.tflite"
    model.write_bytes(MODEL.read_bytes())
    x = np.random.default_rng(0).uniform(0, 1, (6, 28, 28)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=np.arange(6) % 10)
    proj = tmp_path / "proj"
    r = cli("generate", model, "--board", "qemu-netduinoplus2", "-o", proj, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "edgekit-rt" in r.stdout + r.stderr
    r = cli("build", proj, timeout=300)
    assert r.returncode == 0, r.stderr
    r = cli("hil", proj, "--runs", "0", "--require-exact", "--report", tmp_path / "report", timeout=300)
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["device"]["runtime"] == "edgekit-rt"
    assert report["agreement"]["samples"] == 6 and report["agreement"]["exact_share"] == 1.0
