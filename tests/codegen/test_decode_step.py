"""edgekit-rt on a decode step (tests/codegen/decode_models.py): the comparisons and SELECT_V2 on
a run-time condition bit-exact with TFLM, and a transformer step whose KV caches are state ports
exact against the host reference over a sequence (reset, then token/position steps, the caches
carried by the generated code's static arrays and by the reference)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

import decode_models as M
import sweep_models
from ekrt_harness import build_host, run_host, run_tflm

from edgekit.codegen import compile_model
from edgekit.model.reference import int8_interpreter
from edgekit.model.tflite_graph import Graph, parse_graph

pytestmark = pytest.mark.tf

T, D, V = 12, 16, 24
STEPS = T   # every position of the context (the position embedding ends there)


def _compare_rows(graph: Graph, n: int) -> np.ndarray:
    """Input blocks: x random int8 (with the extremes), pos over -1 .. T (outside the iota too)."""
    rng = np.random.default_rng(5)
    rows = []
    for k in range(n):
        values = {"x": rng.integers(-128, 128, (M.T_CMP, M.D_CMP)), "pos": np.array([k % (M.T_CMP + 2) - 1])}
        if k < 2:
            values["x"][:] = (-128, 127)[k]
        rows.append(M.input_block(graph, [values[graph.io_name(i)] for i in graph.inputs]))
    return np.stack(rows)


@pytest.mark.parametrize("spec", M.COMPARE_SPECS, ids=[s[0] for s in M.COMPARE_SPECS])
def test_comparison_and_select_bit_exact_with_tflm(spec: tuple, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    tflite = sweep_models.patch_opcode(M.compare_model(sweep_cache, spec), "SELECT", "SELECT_V2")
    graph = parse_graph(tflite)
    ops = {op.op for op in graph.operators}
    assert "SELECT_V2" in ops and ops & {"EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"}
    if "logical" in spec[0]:
        assert f"LOGICAL_{spec[0].split('_')[-1].upper()}" in ops, ops
    rows = _compare_rows(graph, 24)
    got = run_host(build_host(tflite, ekrt_build_dir), rows)
    want = run_tflm(tflite, rows)
    assert np.array_equal(got, want)
    if spec[0].startswith("iota_equal"):
        # EQUAL(iota, pos) selecting into a dying operand of the output's shape: the slice update
        c_text = compile_model(graph).sources()["edgekit_model.c"]
        assert "ekrt_select_slice(" in c_text


def _sequence(graph: Graph, steps: int, V: int) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, V, steps)
    values = [[np.array([t], np.int32), np.array([p], np.int32)] for p, t in enumerate(tokens)]
    assert [graph.io_name(i) for i in graph.inputs] == ["token", "position"]
    return np.stack([M.input_block(graph, v) for v in values]), values


def _reference(tflite: bytes, graph: Graph, values: list[list[np.ndarray]]) -> np.ndarray:
    ref = int8_interpreter(tflite, graph, backend="tflm")
    assert ref.stepped
    ref.reset_state()
    return np.stack([ref.run_sample(v)[0].reshape(-1) for v in values])


@pytest.mark.parametrize("rolling", [False, True], ids=["slot_update", "rolling_window"])
def test_decode_step_exact_over_a_sequence(rolling: bool, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    """Slot update: the caches computed in their arrays (the row written in place); rolling
    window (CONCATENATION): computed in the arena and copied into them after the ops."""
    tflite = M.step_model(sweep_cache, T=T, D=D, V=V, rolling=rolling)
    graph = parse_graph(tflite)
    assert [sp.name for sp in sorted(graph.state, key=lambda sp: sp.name)] == ["k0", "v0"]
    compiled = compile_model(graph)
    assert compiled.summary.state_bytes == 2 * T * D
    files = compiled.sources()
    assert "#define EDGEKIT_MODEL_STEPPED 1" in files["edgekit_model.h"]
    assert f"#define EDGEKIT_MODEL_INPUT_BYTES {graph.io_block('input')[1]}" in files["edgekit_model.h"]
    c_text = files["edgekit_model.c"]
    assert c_text.count("ekrt_select_slice(&") == (0 if rolling else 2)
    assert ("EQUAL: not needed" in c_text) != rolling   # the slices' condition is never read
    assert ("ekrt_copy(" in c_text.split("EKRT_OP_HOOK(")[-1]) == rolling   # copied after the ops
    rows, values = _sequence(graph, STEPS, V)
    want = _reference(tflite, graph, values)
    exe = build_host(tflite, ekrt_build_dir)
    got = run_host(exe, rows, keep_state=True)
    assert np.array_equal(got, want)
    assert len({r.tobytes() for r in want}) > STEPS // 2   # the logits move with the steps
    # A reset starts the sequence again: every input reset gives step 0's logits for each token.
    again = run_host(exe, rows[:1].repeat(3, axis=0))
    assert np.array_equal(again, np.repeat(want[:1], 3, axis=0))


def test_decode_step_clean_under_sanitizers(sweep_cache: Path, ekrt_build_dir: Path) -> None:
    from test_ekrt_exact import SANITIZE

    tflite = M.step_model(sweep_cache, T=T, D=D, V=V)
    graph = parse_graph(tflite)
    rows, values = _sequence(graph, STEPS, V)
    got = run_host(build_host(tflite, ekrt_build_dir, SANITIZE), rows, keep_state=True)
    assert np.array_equal(got, _reference(tflite, graph, values))


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_decode_step_cortex_m4_exact(dsp: bool, sweep_cache: Path, tmp_path: Path) -> None:
    """The same sequence on the emulated Cortex-M4F: one reset, then each step, exact against
    the host reference; every step's instructions are printed (a KV cache update writes one row)."""
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed")
    import ekrt_bare_metal as bench

    tflite = M.step_model(sweep_cache, T=T, D=D, V=V)
    graph = parse_graph(tflite)
    rows, values = _sequence(graph, STEPS, V)
    path = tmp_path / "step.tflite"
    path.write_bytes(tflite)
    elf = bench.build_firmware(path, tmp_path, rows, dsp)
    _, steps, outs = bench.run_qemu_steps(elf, timeout=120)
    want = _reference(tflite, graph, values)
    assert len(steps) == STEPS and outs == [r.tobytes() for r in want]
    print(f"instructions per step ({'dsp' if dsp else 'portable'}): {steps}")


def test_tflm_glue_keeps_the_state_ports(sweep_cache: Path) -> None:
    """The tflm runtime's generated C++ copies each state port into its input tensor before
    Invoke and out of its output tensor after, and counts it as state (run on the virtual board:
    tests/tflm/test_tflm_runtime.py)."""
    from edgekit.runtimes.tflm.code import state_bytes, tflm_sources

    tflite = M.step_model(sweep_cache, T=T, D=D, V=V)
    graph = parse_graph(tflite)
    files = tflm_sources(graph, tflite, 64 * 1024)
    assert "#define EDGEKIT_MODEL_STEPPED 1" in files["edgekit_model.h"]
    assert files["edgekit_model_tflm.cc"].count("memcpy(state") == 2 and state_bytes(graph) == 2 * T * D
