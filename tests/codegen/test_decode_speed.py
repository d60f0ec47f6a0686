"""The fast paths of a decode step's ops, bit-exact with TFLM: ADD/SUB/MUL of an activation and a
constant scalar as a 256-entry table (every input code, the constant on either side), and
BATCH_MATMUL's row kernels (Q.K^T and P.V through the caches' TRANSPOSEs, heads of 8 and of
other depths, SOFTMAX from its table of exps and sum terms) over a decode sequence, on the host
and on the emulated Cortex-M4F with and without the DSP extension."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

import decode_models as M
import sweep_models_transformer as T
from ekrt_harness import build_host, run_host, run_tflm

from edgekit.codegen import compile_model
from edgekit.model.reference import int8_interpreter
from edgekit.model.tflite_graph import Graph, parse_graph

pytestmark = pytest.mark.tf


def _scalar(kind: str, c: float, first: bool) -> T.Builder:
    def build(keras: Any, x: Any) -> Any:
        fn = {"mul": lambda a, b: a * b, "add": lambda a, b: a + b, "sub": lambda a, b: a - b}[kind]
        return keras.layers.Lambda(lambda t: fn(np.float32(c), t) if first else fn(t, np.float32(c)))(x)
    return build


SCALAR_SPECS: list[T.Spec] = [
    ("scalar_mul_small", (256,), _scalar("mul", 0.353, False), T._normal),
    ("scalar_mul_negative", (256,), _scalar("mul", -2.7, False), T._uniform(-1.0, 3.0)),
    ("scalar_add", (256,), _scalar("add", 0.8, False), T._normal),
    ("scalar_sub_constant_first", (256,), _scalar("sub", 1.5, True), T._uniform(-0.5, 2.5)),
    ("scalar_sub", (256,), _scalar("sub", 0.25, False), T._normal),
]


def _every_code(n: int) -> np.ndarray:
    base = np.resize(np.arange(-128, 128), n)
    return np.stack([np.roll(base, k) for k in (0, 1)]).astype(np.int8)


@pytest.mark.parametrize("spec", SCALAR_SPECS, ids=[s[0] for s in SCALAR_SPECS])
def test_scalar_operand_table_bit_exact_with_tflm(spec: T.Spec, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    tflite = T.build(spec, sweep_cache)
    g = parse_graph(tflite)
    ops = [op.op for op in g.operators]
    assert ops in (["MUL"], ["ADD"], ["SUB"]), ops
    op = g.operators[0]
    assert any(g.tensors[i].is_constant and g.tensors[i].size == 1 for i in op.inputs[:2])
    assert "ekrt_lut(" in compile_model(g).sources()["edgekit_model.c"]
    xs = _every_code(g.input_tensors[0].size)
    want = run_tflm(tflite, xs)
    assert np.array_equal(run_host(build_host(tflite, ekrt_build_dir), xs), want)
    assert len(np.unique(want)) > 20


# (T, D, H): heads of 8 (the unrolled Q.K^T), of 6 and 12 (a depth not a multiple of 4; P.V's
# column tail), contexts of odd length.
SHAPES = [(20, 32, 4), (13, 24, 4), (9, 24, 2)]


def _sequence(graph: Graph, steps: int, V: int) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    rng = np.random.default_rng(4)
    values = [[np.array([t], np.int32), np.array([p], np.int32)] for p, t in enumerate(rng.integers(0, V, steps))]
    return np.stack([M.input_block(graph, v) for v in values]), values


def _reference(tflite: bytes, graph: Graph, values: list[list[np.ndarray]]) -> np.ndarray:
    ref = int8_interpreter(tflite, graph, backend="tflm")
    ref.reset_state()
    return np.stack([ref.run_sample(v)[0].reshape(-1) for v in values])


def _step(sweep_cache: Path, shape: tuple[int, int, int]) -> tuple[bytes, Graph]:
    t, d, h = shape
    tflite = M.step_model(sweep_cache, T=t, D=d, V=24, H=h)
    graph = parse_graph(tflite)
    bmm = [op for op in graph.operators if op.op == "BATCH_MATMUL"]
    assert len(bmm) == 2 and graph.tensors[bmm[0].outputs[0]].size == h * t
    return tflite, graph


@pytest.mark.parametrize("shape", SHAPES, ids=[f"T{t}_D{d}_H{h}" for t, d, h in SHAPES])
def test_decode_step_shapes_exact(shape: tuple[int, int, int], sweep_cache: Path, ekrt_build_dir: Path) -> None:
    tflite, graph = _step(sweep_cache, shape)
    rows, values = _sequence(graph, shape[0], 24)
    got = run_host(build_host(tflite, ekrt_build_dir), rows, keep_state=True)
    assert np.array_equal(got, _reference(tflite, graph, values))


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
@pytest.mark.parametrize("shape", SHAPES[:2], ids=[f"T{t}_D{d}_H{h}" for t, d, h in SHAPES[:2]])
def test_decode_step_shapes_cortex_m4_exact(shape: tuple[int, int, int], dsp: bool, sweep_cache: Path,
                                            tmp_path: Path) -> None:
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed")
    import ekrt_bare_metal as bench

    tflite, graph = _step(sweep_cache, shape)
    rows, values = _sequence(graph, shape[0], 24)
    path = tmp_path / "step.tflite"
    path.write_bytes(tflite)
    elf = bench.build_firmware(path, tmp_path, rows, dsp)
    _, steps, outs = bench.run_qemu_steps(elf, timeout=120)
    assert outs == [r.tobytes() for r in _reference(tflite, graph, values)]


def _mask_fill(tf: Any, x: Any, pos: Any) -> Any:
    """A mask of the input's whole shape computed at run time, a scalar fill: SELECT_V2's flat
    mask loop (USUB8/SEL four at a time on the DSP path); an odd element count for its tail."""
    iota = np.arange(M.T_CMP * M.D_CMP - 3, dtype=np.int32).reshape(1, -1) % 7
    c = tf.math.less_equal(iota, pos)
    return tf.where(c, tf.reshape(x, (1, -1))[:, 3:], -3.0) + 0.125


MASK_SPEC = ("iota_mask_fill", _mask_fill)


def _mask_rows(graph: Graph) -> np.ndarray:
    rng = np.random.default_rng(6)
    values = [{"x": rng.integers(-128, 128, (M.T_CMP, M.D_CMP)), "pos": np.array([k % 9 - 1])} for k in range(12)]
    return np.stack([M.input_block(graph, [v[graph.io_name(i)] for i in graph.inputs]) for v in values])


def test_mask_select_bit_exact_with_tflm(sweep_cache: Path, ekrt_build_dir: Path) -> None:
    tflite = M.compare_model(sweep_cache, MASK_SPEC)
    graph = parse_graph(tflite)
    sel = [op for op in graph.operators if op.op == "SELECT_V2"]
    assert len(sel) == 1 and graph.tensors[sel[0].inputs[2]].size == 1
    assert graph.tensors[sel[0].inputs[0]].size == graph.tensors[sel[0].outputs[0]].size
    rows = _mask_rows(graph)
    want = run_tflm(tflite, rows)
    assert np.array_equal(run_host(build_host(tflite, ekrt_build_dir), rows), want)


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_mask_select_cortex_m4_bit_exact(dsp: bool, sweep_cache: Path, tmp_path: Path) -> None:
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed")
    import ekrt_bare_metal as bench

    tflite = M.compare_model(sweep_cache, MASK_SPEC)
    graph = parse_graph(tflite)
    rows = _mask_rows(graph)
    path = tmp_path / "mask.tflite"
    path.write_bytes(tflite)
    _, outs = bench.run_qemu(bench.build_firmware(path, tmp_path, rows, dsp), timeout=120)
    assert outs == [r.tobytes() for r in run_tflm(tflite, rows)]
