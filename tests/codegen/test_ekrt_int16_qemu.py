"""16x8 models on edgekit-rt on the emulated Cortex-M4F (QEMU netduinoplus2), byte for byte
against tflite_micro: one firmware image of most int16 ops (bare metal, arm-none-eabi-gcc
-Werror), TFLM's SEANet TRANSPOSE_CONV (and two more) the same way, and a sample of TFLM's SEANet models
through the normal path (`edgekit generate`, `build`, `hil --require-exact`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")
if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
    pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed", allow_module_level=True)

import ekrt_bare_metal as bench
import sweep_models_int16 as s16
from ekrt_harness import run_tflm
from test_ekrt_int16 import ARENA, PUBLISHED, block_inputs

from edgekit.model.tensor_data import random_inputs
from edgekit.model.tflite_graph import load_graph
from tests.conftest import run_cli

pytestmark = [pytest.mark.toolchain, pytest.mark.qemu]


@pytest.mark.tf
def test_int16_ops_on_cortex_m4(sweep_cache: Path, tmp_path: Path) -> None:
    """CONV_2D, DEPTHWISE_CONV_2D, LEAKY_RELU, ADD, SUB, MUL, MAX/AVERAGE_POOL_2D, PAD,
    STRIDED_SLICE, CONCATENATION, TRANSPOSE_CONV, RELU, TANH, FULLY_CONNECTED, LOGISTIC on
    int16, one image."""
    path = tmp_path / "mix.tflite"
    path.write_bytes(s16.build16(s16.MIX, sweep_cache))
    inputs = s16.int16_inputs(load_graph(path).input_tensors[0].size, 4, seed=9)
    elf = bench.build_firmware(path, tmp_path, inputs, dsp=True)
    instr, outs = bench.run_qemu(elf, timeout=120)
    assert instr > 0
    assert outs == bench.tflm_outputs(path, inputs)


@pytest.mark.parametrize("name", ["transpose_conv4", "pad0", "quantize1"])
def test_seanet_model_on_cortex_m4(name: str, tmp_path: Path) -> None:
    """TRANSPOSE_CONV (its int32 output-shape input has no quantization for random data to be
    drawn over) and two more of the sample on the bare-metal image (cheaper than the hil
    path): the input block built here, every output byte equal to tflite_micro's."""
    path = PUBLISHED / f"seanet_{name}.tflite"
    xs = block_inputs(load_graph(path), 3, seed=7)
    elf = bench.build_firmware(path, tmp_path, xs, dsp=True)
    _instr, outs = bench.run_qemu(elf, timeout=120)
    want = run_tflm(path.read_bytes(), xs, arena_size=ARENA)
    assert outs == [r.tobytes() for r in want]


@pytest.mark.parametrize("name", ["add16", "sub0", "conv20", "leaky_relu18", "strided_slice0", "quantize0"])
def test_seanet_model_exact_through_hil(name: str, tmp_path: Path) -> None:
    """generate (default runtime: edgekit-rt), build and `hil --require-exact` on the virtual
    board, with random inputs over the whole int16 range of each input (ADD, SUB: two inputs;
    quantize0: raw int32 values)."""
    path = PUBLISHED / f"seanet_{name}.tflite"
    g = load_graph(path)
    if g.input_tensors[0].dtype == "int32":
        arrays = {"x": np.random.default_rng(0).integers(-2**20, 2**20, (6, *g.input_tensors[0].sample_shape))
                  .astype(np.int32)}
    else:
        arrays, _ = random_inputs(g, 6)
    np.savez(tmp_path / "x.npz", **{"x_test" + k[1:]: v for k, v in arrays.items()})
    project = tmp_path / "fw"
    r = run_cli("generate", path, "--board", "qemu-netduinoplus2", "-o", project, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["runtime"] == "edgekit-rt"
    assert run_cli("build", project).returncode == 0
    r = run_cli("hil", project, "--data", tmp_path / "x.npz", "--runs", "2", "--require-exact", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["samples_measured"] == 6 and report["agreement"]["exact_share"] == 1.0


@pytest.mark.tf
def test_quantize_activations_int16_runs_exact_on_edgekit_rt(tmp_path: Path) -> None:
    """The user's path: a Keras model through `quantize --activations int16` (16x8), `generate`
    (edgekit-rt, the default), `build` and `hil --require-exact`."""
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 16, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 80)]
    model = keras.Sequential([keras.Input((16, 3)), keras.layers.Conv1D(8, 3, activation="relu"),
                              keras.layers.MaxPooling1D(2), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "d.npz", x_train=x[:60], y_train=y[:60], x_test=x[60:], y_test=y[60:])
    r = run_cli("quantize", tmp_path / "m.keras", "--calib", tmp_path / "d.npz", "-o", tmp_path / "m.tflite",
                "--activations", "int16")
    assert r.returncode == 0, r.stderr
    r = run_cli("generate", tmp_path / "m.tflite", "--board", "qemu-netduinoplus2", "-o", tmp_path / "fw", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["runtime"] == "edgekit-rt", r.stderr
    assert run_cli("build", tmp_path / "fw").returncode == 0
    r = run_cli("hil", tmp_path / "fw", "--data", tmp_path / "d.npz", "--runs", "2", "--require-exact", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["agreement"]["exact_share"] == 1.0
