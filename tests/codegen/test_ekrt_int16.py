"""16x8 models (int16 activations, int8 weights) on edgekit-rt are bit-exact with the TFLM
reference kernels (the tflite_micro package): TF-converted sweep models of every int16 op,
and TFLM's own SEANet integration models (tests/fixtures/models/published/seanet_*), built
with the host gcc (-Wall -Wextra -Werror -pedantic) and compared byte for byte."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

import sweep_models_int16 as s16
from ekrt_harness import build_host, run_host, run_tflm
from test_ekrt_exact import SANITIZE

from edgekit.codegen import compile_model
from edgekit.codegen.lower_int16 import INT16_OPS
from edgekit.errors import ModelError
from edgekit.model.tflite_graph import Graph, parse_graph

PUBLISHED = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "published"
# One of each op kind of TFLM's SEANet models (integration_tests/seanet), the sub and leaky
# relu ones among those the TFLM tree's float multipliers miss by 1 LSB.
SEANET = ("add16", "sub0", "conv11", "conv20", "leaky_relu18", "pad0", "strided_slice0",
          "transpose_conv4", "quantize0", "quantize1")
ARENA = 1 << 20   # TFLM's default arena is too small for some of them


def seanet(name: str) -> bytes:
    """The committed SEANet model `name` (e.g. "conv20")."""
    return (PUBLISHED / f"seanet_{name}.tflite").read_bytes()


def block_inputs(graph: Graph, n_random: int, seed: int = 0) -> np.ndarray:
    """Rows of each input's values at its offset of the input block (as int8 bytes, or the
    single input's own type): int16 extremes and random values over the whole range; an int32
    output-shape operand (TRANSPOSE_CONV) its value; another int32 input (QUANTIZE) random
    values of +-2^20 and the int32 extremes."""
    offsets, total = graph.io_block("input")
    rows = np.zeros((n_random + 4, total), np.uint8)
    for k, (t, off) in enumerate(zip(graph.input_tensors, offsets)):
        feeds = [op for op in graph.operators if graph.inputs[k] in op.inputs]
        if t.dtype == "int32" and feeds and feeds[0].op == "TRANSPOSE_CONV":
            out = graph.tensors[feeds[0].outputs[0]]
            v = np.tile(np.array(out.shape, np.int32), (len(rows), 1))
        elif t.dtype == "int32":
            v = np.concatenate([np.full((2, t.size), -2**31), np.full((2, t.size), 2**31 - 1),
                                np.random.default_rng(seed + k).integers(-2**20, 2**20, (n_random, t.size))])
        else:
            v = s16.int16_inputs(t.size, n_random, seed + k)
        raw = np.ascontiguousarray(v.astype(np.dtype(t.dtype).newbyteorder("<"))).view(np.uint8)
        rows[:, off:off + t.nbytes] = raw.reshape(len(rows), -1)
    if len(graph.inputs) == 1:
        t = graph.input_tensors[0]
        return rows.view(np.dtype(t.dtype).newbyteorder("<")).astype(t.dtype)
    return rows.view(np.int8)


def assert_exact(tflite: bytes, workdir: Path, n_random: int, seed: int = 0,
                 extra_flags: list[str] | None = None) -> None:
    """edgekit-rt's outputs equal TFLM's on block_inputs, byte for byte."""
    graph = parse_graph(tflite)
    xs = block_inputs(graph, n_random, seed)
    got = run_host(build_host(tflite, workdir, extra_flags), xs)
    want = run_tflm(tflite, xs, arena_size=ARENA)
    bad = np.nonzero((got != want).any(axis=1))[0]
    assert not bad.size, f"{len(bad)}/{len(xs)} inputs differ; first #{bad[0]}:\n got  " \
                         f"{got[bad[0]][:16]}\n want {want[bad[0]][:16]}"


@pytest.mark.tf
@pytest.mark.parametrize("spec", s16.SPECS16, ids=[s[0] for s in s16.SPECS16])
def test_int16_op_sweep_bit_exact(spec, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    tflite = s16.build16(spec, sweep_cache)
    graph = parse_graph(tflite)
    assert {t.dtype for t in graph.input_tensors + graph.output_tensors} == {"int16"}
    assert_exact(tflite, ekrt_build_dir, n_random=60, seed=1)


@pytest.mark.tf
def test_int16_sweep_covers_every_int16_op(sweep_cache: Path) -> None:
    """Each op with an int16 lowering appears on int16 activations in some sweep model (the
    shape aliases and TILE aside: TILE is TFLite's, SQUEEZE/EXPAND_DIMS are aliases as RESHAPE),
    so no int16 kernel goes untested; the SEANet models add TRANSPOSE_CONV's graph-input shape."""
    seen = set()
    for spec in s16.SPECS16:
        g = parse_graph(s16.build16(spec, sweep_cache))
        seen |= {op.op for op in g.operators
                 if g.tensors[op.outputs[0]].dtype == "int16" and op.op != "QUANTIZE"}
    untested = set(INT16_OPS) - seen - {"TILE", "SQUEEZE", "EXPAND_DIMS", "PADV2", "TRANSPOSE"}
    assert not untested, untested


@pytest.mark.parametrize("name", SEANET)
def test_tflm_seanet_model_bit_exact(name: str, ekrt_build_dir: Path) -> None:
    """TFLM's SEANet integration models (16x8, two-input ADD/SUB/TRANSPOSE_CONV included) run on
    edgekit-rt, every output equal to the tflite_micro package's."""
    tflite = seanet(name)
    compiled = compile_model(parse_graph(tflite))
    assert compiled.summary.ops in ((op,) for op in ("ADD", "SUB", "CONV_2D", "LEAKY_RELU", "PAD",
                                                     "STRIDED_SLICE", "TRANSPOSE_CONV", "QUANTIZE"))
    assert_exact(tflite, ekrt_build_dir, n_random=30, seed=2)


@pytest.mark.tf
@pytest.mark.parametrize("name", ["add_sub_mul", "pad_slice_concat", "conv_transpose_same_s2",
                                  "dwconv_mult2_relu6", "softmax_rows_wide"])
def test_int16_sweep_clean_under_sanitizers(name: str, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    spec = next(s for s in s16.SPECS16 if s[0] == name)
    assert_exact(s16.build16(spec, sweep_cache), ekrt_build_dir, n_random=6, seed=4, extra_flags=SANITIZE)


def test_seanet_transpose_conv_clean_under_sanitizers(ekrt_build_dir: Path) -> None:
    assert_exact(seanet("transpose_conv4"), ekrt_build_dir, n_random=4, seed=5, extra_flags=SANITIZE)


@pytest.mark.tf
def test_int16_op_without_kernel_is_named(sweep_cache: Path) -> None:
    """A 16x8 model with an op edgekit-rt has no int16 kernel for (MAXIMUM): one line naming
    the op, its index and output, the int16 ops it does have, and the way out (tflm)."""
    spec = ("maximum16", (12,), lambda L, x: L.Maximum()([L.Dense(6)(x), L.Dense(6)(x)]))
    graph = parse_graph(s16.build16(spec, sweep_cache))
    op = next(op for op in graph.operators if op.op == "MAXIMUM")
    with pytest.raises(ModelError) as err:
        compile_model(graph)
    msg = str(err.value)
    assert f"operator {op.index} (MAXIMUM)" in msg and "has int16 activations" in msg
    assert "CONV_2D" in msg and "--runtime tflm" in msg and "\n" not in msg
