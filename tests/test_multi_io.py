"""Models of several inputs and outputs on the device: the model API takes one input block and
one output block (each tensor at its 4-byte aligned offset, iotypes.io_offsets), INFO counts
them, both runtimes compute every output byte TFLM computes, and hil takes one data array per
input (x_test_<input name>) and reports each output (tests/model/test_multi_io_keras.py takes
a Keras model of two inputs and two outputs from quantize to the report)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgekit.codegen import compile_model
from edgekit.model.iotypes import io_offsets
from edgekit.model.tflite_graph import load_graph
from tests.conftest import REPO, assert_clean_error, run_cli

ADD = REPO / "tests" / "fixtures" / "models" / "published" / "simple_add_model.tflite"
BOARD = "qemu-netduinoplus2"


def test_io_blocks_align_each_tensor_to_a_word() -> None:
    assert io_offsets([7, 3]) == ([0, 8], 11)
    assert io_offsets([16384, 16384]) == ([0, 16384], 32768)
    assert io_offsets([5]) == ([0], 5)
    g = load_graph(ADD)
    src = compile_model(g).sources()
    header, code = src["edgekit_model.h"], src["edgekit_model.c"]
    assert "#define EDGEKIT_MODEL_INPUTS 2" in header and "#define EDGEKIT_MODEL_INPUT_BYTES 32768" in header
    assert "#define EDGEKIT_MODEL_INPUT1_OFFSET 16384" in header
    # (an ADD this big reads each input's term from a table: ekrt_add_lut)
    assert "(&op0, op0_t, input, (input + 16384), output);" in code


def _reference(graph_path: Path, blocks: np.ndarray) -> list[bytes]:
    from tflite_micro.python.tflite_micro import runtime

    g = load_graph(graph_path)
    it = runtime.Interpreter.from_bytes(graph_path.read_bytes(), arena_size=256 * 1024)
    offsets, _ = g.io_block("input")
    out = []
    for block in blocks:
        for k, (off, t) in enumerate(zip(offsets, g.input_tensors)):
            it.set_input(block[off:off + t.nbytes].view(np.int8).reshape(t.shape), k)
        it.invoke()
        out.append(np.asarray(it.get_output(0)).astype(np.int8).tobytes())
    return out


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.parametrize("runtime", ["edgekit-rt", "tflm"])
def test_two_inputs_run_exact_on_the_virtual_board(runtime: str, tflm_tree: Callable[[str], Path],
                                                   tmp_path: Path) -> None:
    from edgekit.boards import load_board
    from edgekit.hil.session import Session
    from edgekit.project.manifest import open_project
    from edgekit.sim.qemu import VirtualBoard

    extra = ["--tflm-dir", tflm_tree("cmsis_nn")] if runtime == "tflm" else []
    project = tmp_path / "fw"
    r = run_cli("generate", ADD, "--board", BOARD, "--runtime", runtime, "-o", project, *extra)
    assert r.returncode == 0, r.stderr
    r = run_cli("build", project)
    assert r.returncode == 0, r.stderr
    rng = np.random.default_rng(0)
    blocks = rng.integers(-128, 128, size=(3, 32768)).astype(np.int8)
    blocks[0] = 127   # saturating
    want = _reference(ADD, blocks)
    elf = open_project(project).built_elf()
    with VirtualBoard.for_board(load_board(BOARD), elf) as qemu, Session(qemu.pty) as s:
        info = s.connect()
        assert (info.inputs, info.outputs, info.input_bytes, info.output_bytes) == (2, 1, 32768, 16384)
        for block, expected in zip(blocks, want):
            out, cycles = s.infer_block(block.tobytes())
            assert out == expected and cycles > 0
    # hil: one array per input, named after the model's inputs; a plain x_test does not fit.
    data = tmp_path / "data.npz"
    g = load_graph(ADD)
    names = [g.io_name(i) for i in g.inputs]
    assert names == ["input_1", "input_2"]
    xs = {f"x_test_{n}": rng.uniform(-1, 1, size=(4, *t.sample_shape)).astype(np.float32)
          for n, t in zip(names, g.input_tensors)}
    np.savez(data, x_test=xs["x_test_input_1"])
    assert_clean_error(run_cli("hil", project, "--data", data, "--runs", "0"), 2,
                       "no x_test_input_1, x_test_input_2 arrays", "x_test_<input name>")
    np.savez(data, **xs)
    r = run_cli("hil", project, "--data", data, "--runs", "0", "--require-exact", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["agreement"]["samples"] == 4 and report["agreement"]["exact_share"] == 1.0
    assert "outputs" not in report   # one output: no per-output table
