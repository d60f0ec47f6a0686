"""Models as published by TFLM and MLPerf Tiny (tests/fixtures/models/published), with the
quirks real files have: an old converter's quantization axis on biases, float32 input/output
around an integer graph, a float model. The fast tier checks what edgekit reads and refuses;
the virtual board checks that what it accepts runs exact on both runtimes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgekit.codegen import compile_model
from edgekit.errors import ModelError
from edgekit.model.quantize import verify_int8
from edgekit.model.tflite_graph import load_graph
from tests.conftest import REPO, assert_clean_error, run_cli

pytestmark = pytest.mark.long   # minutes: scheduled first (tests/conftest.py)

PUBLISHED = REPO / "tests" / "fixtures" / "models" / "published"
PERSON = PUBLISHED / "person_detect.tflite"
TOYCAR = PUBLISHED / "model_ToyCar_quant_fullint.tflite"
FLOAT = PUBLISHED / "hello_world_float.tflite"
BOARD = "qemu-netduinoplus2"


def test_bias_quantized_dimension_of_an_old_converter_is_read_as_axis_0() -> None:
    """person_detect's per-channel biases are 1-D with quantized dimension 3: TFLM ignores it,
    edgekit reads the one axis there is (it once refused the file as corrupt)."""
    g = load_graph(PERSON)
    biases = [t for t in g.tensors if t.dtype == "int32" and len(t.shape) == 1 and t.quant is not None
              and t.quant.scale.size > 1]
    assert biases and all(t.quant.axis == 0 for t in biases)
    verify_int8(g, str(PERSON))
    assert compile_model(g).sources()["edgekit_model.c"]


def test_integer_model_with_float_input_and_output_is_accepted() -> None:
    g = load_graph(TOYCAR)
    assert [t.dtype for t in g.input_tensors + g.output_tensors] == ["float32", "float32"]
    verify_int8(g, str(TOYCAR))
    header = compile_model(g).sources()["edgekit_model.h"]
    assert "#define EDGEKIT_MODEL_INPUT_TYPE float" in header
    assert "#define EDGEKIT_MODEL_OUTPUT_DTYPE 4" in header
    q = g.edge_quantized(g.inputs[0])
    assert q is not None and q.dtype == "int8" and q.index == g.operators[0].outputs[0]


def test_float_model_is_refused_in_one_line(cli) -> None:
    with pytest.raises(ModelError, match="is float32, not int8"):
        verify_int8(load_graph(FLOAT), str(FLOAT))
    assert_clean_error(cli("generate", FLOAT, "--board", BOARD, "-o", Path("/nonexistent/never")), 2,
                       "input 'serving_default_dense_input:0' is float32, not int8")


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.parametrize("model,inputs", [(PERSON, "int8"), (TOYCAR, "float32")])
def test_published_model_runs_exact_on_the_virtual_board(model: Path, inputs: str, tmp_path: Path) -> None:
    """Generated, built and validated with the default runtime: every output equal to TFLM's."""
    g = load_graph(model)
    rng = np.random.default_rng(0)
    shape = (6, *g.input_tensors[0].shape[1:])
    x = (rng.integers(-128, 128, shape).astype(np.int8) if inputs == "int8"
         else rng.normal(0.0, 4.0, shape).astype(np.float32))
    np.savez(tmp_path / "data.npz", x_test=x)
    project = tmp_path / "fw"
    r = run_cli("generate", model, "--board", BOARD, "-o", project)
    assert r.returncode == 0, r.stderr
    assert run_cli("build", project).returncode == 0
    r = run_cli("hil", project, "--data", tmp_path / "data.npz", "--runs", "2", "--require-exact", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["samples_measured"] == 6 and report["agreement"]["exact_share"] == 1.0
    assert report["agreement"]["unit"] == ("ULP" if inputs == "float32" else "LSB")


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
def test_float_io_model_is_exact_on_both_runtimes(tflm_tree: Callable[[str], Path], tmp_path: Path) -> None:
    """`compare` of MLPerf Tiny's ToyCar full-integer model (float in and out): random float
    inputs over the model's QUANTIZE range, edgekit-rt and TFLM (CMSIS-NN) both bit-exact."""
    r = run_cli("compare", TOYCAR, "--board", BOARD, "--tflm-dir", tflm_tree("cmsis_nn"), "-o",
                tmp_path / "cmp", "--samples", "8", "--runs", "2", "--no-profile", "--json", timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert [v["runtime"] for v in doc["variants"]] == ["edgekit-rt", "tflm"] and doc["all_exact"]
    assert "random inputs over the int8 input range" in doc["data"]


AUDIO = PUBLISHED / "audio_preprocessor_int8.tflite"


def test_tflm_signal_ops_are_tflm_s_to_run() -> None:
    """The audio front end's custom ops are TFLM's signal library: not refused as foreign, left
    to the tflm runtime (edgekit-rt lacks them), registered by their resolver methods."""
    from edgekit.runtimes.tflm.code import resolver_method

    g = load_graph(AUDIO)
    verify_int8(g, str(AUDIO))
    assert "CUSTOM:SignalRfft" in g.op_names()
    assert resolver_method("CUSTOM:SignalRfft") == "AddRfft" and resolver_method("CUSTOM:SignalPCAN") == "AddPCAN"
    with pytest.raises(ModelError, match="not one of TFLM's"):
        resolver_method("CUSTOM:ethos-u")
    assert g.output_tensors[0].sample_shape == (40,) and g.input_tensors[0].sample_shape == (480,)


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
def test_tflm_audio_front_end_runs_exact_with_the_user_s_tree(tflm_tree: Callable[[str], Path],
                                                              tmp_path: Path) -> None:
    """micro_speech's preprocessor (signal-library ops, raw int16 samples in) generated with auto
    (which picks tflm: edgekit-rt lacks the signal ops), built with the signal sources of the
    tree, exact on the virtual board."""
    x = np.random.default_rng(0).integers(-32768, 32768, (4, 480)).astype(np.float32)
    np.savez(tmp_path / "audio.npz", x_test=x)
    project = tmp_path / "fw"
    r = run_cli("generate", AUDIO, "--board", BOARD, "--tflm-dir", tflm_tree("cmsis_nn"), "-o", project)
    assert r.returncode == 0, r.stderr
    assert "runtime tflm (auto): edgekit-rt does not support CUSTOM:SignalWindow" in r.stdout + r.stderr
    assert run_cli("build", project).returncode == 0
    r = run_cli("hil", project, "--data", tmp_path / "audio.npz", "--runs", "2", "--require-exact", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["agreement"]["exact_share"] == 1.0


def test_a_foreign_custom_op_is_named_by_both_runtimes(tmp_path: Path) -> None:
    """A custom op neither runtime has (like the Ethos-U NPU op of TFLM's person_detect_vela; here
    one of the audio front end's renamed) is refused in one line naming it, and only it, for TFLM."""
    import shutil

    model = tmp_path / "foreign.tflite"
    shutil.copyfile(AUDIO, model)
    data = model.read_bytes().replace(b"SignalWindow", b"SignalWidnow")
    model.write_bytes(data)
    assert_clean_error(run_cli("generate", model, "--board", BOARD, "-o", tmp_path / "fw"), 2,
                       "no runtime can run this model", "tflm does not support CUSTOM:SignalWidnow")


SEANET_CONV = PUBLISHED / "seanet_conv11.tflite"


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
def test_tflm_arena_holds_cmsis_nn_scratch(tflm_tree: Callable[[str], Path], tmp_path: Path) -> None:
    """A 16x8 convolution on TFLM with CMSIS-NN kernels: the arena measured on the host (reference
    kernels, no scratch) plus CMSIS-NN's im2col scratch; it failed to initialise on the board."""
    from edgekit.runtimes.tflm import cmsis_nn_scratch_bytes

    g = load_graph(SEANET_CONV)
    assert g.input_tensors[0].dtype == "int16" and cmsis_nn_scratch_bytes(g) > 0
    x = np.random.default_rng(0).normal(0.0, 1.0, (4, *g.input_tensors[0].sample_shape)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x_test=x)
    project = tmp_path / "fw"
    r = run_cli("generate", SEANET_CONV, "--board", BOARD, "--runtime", "tflm", "--tflm-dir",
                tflm_tree("cmsis_nn"), "-o", project)
    assert r.returncode == 0, r.stderr
    assert run_cli("build", project).returncode == 0
    r = run_cli("hil", project, "--data", tmp_path / "x.npz", "--runs", "2", "--require-exact", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["agreement"]["exact_share"] == 1.0
