"""TFLM's own published int8 LSTM models (tests/fixtures/tflm_lstm: MNIST LSTM, micro_speech
LSTM, DTLN noise suppression) run on edgekit-rt byte for byte like tflite_micro: on the host,
with the state reset before each input and carried across inputs (DTLN is a streaming model:
one frame per invoke, state carried), and on the emulated Cortex-M4F (DSP and portable)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

import ekrt_harness as H

from edgekit.model.tflite_graph import load_graph

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tflm_lstm"
MODEL = FIXTURES / "trained_lstm_int8.tflite"
PUBLISHED = ["trained_lstm_int8", "micro_speech_lstm", "dtln_noise_suppression"]


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_lstm_bit_exact_on_host(name: str, ekrt_build_dir: Path) -> None:
    model = FIXTURES / f"{name}.tflite"
    tflite = model.read_bytes()
    n, bad = H.compare(tflite, ekrt_build_dir, n_random=10, seed=9)
    assert n > 0 and bad == 0
    xs = H.test_inputs(load_graph(model).input_tensors[0].size, 6, seed=10)
    exe = H.build_host(tflite, ekrt_build_dir)
    kept = H.run_host(exe, xs, keep_state=True)
    assert np.array_equal(kept, H.run_tflm(tflite, xs, keep_state=True))
    assert not np.array_equal(kept, H.run_tflm(tflite, xs, keep_state=False))  # the state mattered


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
@pytest.mark.parametrize("name", PUBLISHED)
def test_published_lstm_bit_exact_on_cortex_m4(name: str, dsp: bool, tmp_path: Path) -> None:
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed")
    import ekrt_bare_metal as bench

    model = FIXTURES / f"{name}.tflite"
    inputs = bench.bench_inputs(load_graph(model).input_tensors[0].size, 3)
    elf = bench.build_firmware(model, tmp_path, inputs, dsp)
    instr, outs = bench.run_qemu(elf, timeout=300)
    assert instr > 0
    assert outs == bench.tflm_outputs(model, inputs)


@pytest.mark.toolchain
@pytest.mark.qemu
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
