"""edgekit-rt's transformer ops bit-exact with their reference: BATCH_MATMUL (MultiHeadAttention,
matmul with adj_x/adj_y, broadcast batch, Attention), SELECT/SELECT_V2 (causal masks), RSQRT
(every input code at three scales) and the float NEG/SQUARE islands of LayerNormalization,
RMSNormalization and UnitNormalization against TFLM;
GELU (exact and tanh forms, every input code at several scales and zero points) against
LiteRT's reference kernel, TFLM having none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

import sweep_models
import sweep_models_transformer as T
from ekrt_harness import build_host, compare, run_host, run_tflm

from edgekit.model.tflite_graph import parse_graph

pytestmark = pytest.mark.tf


def _every_code(n: int) -> np.ndarray:
    """-128..127 across the row (repeated to n), then shifted by one so each element sees all."""
    base = np.resize(np.arange(-128, 128), n)
    return np.stack([np.roll(base, k) for k in (0, 1)]).astype(np.int8)


@pytest.mark.parametrize("spec", T.TFLM_SPECS, ids=[s[0] for s in T.TFLM_SPECS])
def test_transformer_op_bit_exact_with_tflm(spec: T.Spec, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    tflite = T.build(spec, sweep_cache)
    ops = {op.op for op in parse_graph(tflite).operators}
    if spec[0].startswith("rsqrt"):
        assert ops == {"RSQRT"} and parse_graph(tflite).input_tensors[0].zero_point == -128
        xs = _every_code(256)
        want = run_tflm(tflite, xs)
        assert np.array_equal(run_host(build_host(tflite, ekrt_build_dir), xs), want)
        assert len(np.unique(want)) > 5   # not a constant table at this scale
        return
    expected = {"mha": {"BATCH_MATMUL", "TRANSPOSE", "SOFTMAX"}, "matmul": {"BATCH_MATMUL"},
                "attention": {"BATCH_MATMUL", "SOFTMAX"}, "layernorm": {"NEG", "RSQRT", "DEQUANTIZE"},
                "rmsnorm": {"RSQRT", "MEAN"}, "rmsnorm_layer": {"SQUARE", "RSQRT", "DEQUANTIZE"},
                "unitnorm": {"SQUARE", "SUM", "RSQRT"}, "layernorm_integer": {"SUB", "SQUARED_DIFFERENCE", "RSQRT"},
                "rmsnorm_integer": {"MUL", "MEAN", "RSQRT"}}
    expected = expected.get(spec[0]) or expected[spec[0].split("_")[0]]
    assert expected <= ops, ops
    if spec[0].endswith("_integer"):
        assert not ops & {"DEQUANTIZE", "NEG", "SQUARE"}, ops   # integer end to end
    n, bad = compare(tflite, ekrt_build_dir, n_random=60, seed=8)
    assert bad == 0


def test_select_v1_causal_mask_bit_exact(sweep_cache: Path, ekrt_build_dir: Path) -> None:
    spec = T.SELECT_V1_SPECS[0]
    tflite = sweep_models.patch_opcode(T.build(spec, sweep_cache), "SELECT", "SELECT_V2")
    assert "SELECT_V2" in [op.op for op in parse_graph(tflite).operators]
    n, bad = compare(tflite, ekrt_build_dir, n_random=60, seed=9)
    assert bad == 0


@pytest.mark.parametrize("spec", T.GELU_SPECS, ids=[s[0] for s in T.GELU_SPECS])
def test_gelu_bit_exact_with_litert(spec: T.Spec, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    """Every int8 input of GELU (a model input feeding it straight) against LiteRT's reference
    kernel; the specs cover both forms, zero points -128..127 and scales 0.004 to 0.06."""
    from edgekit.model.reference import _litert

    tflite = T.build(spec, sweep_cache)
    g = parse_graph(tflite)
    gelu = next(op for op in g.operators if op.op == "GELU")
    assert bool(gelu.options.get("approximate")) == ("approx" in spec[0])
    assert gelu.inputs[0] == g.inputs[0]
    xs = _every_code(g.input_tensors[0].size)
    want = _litert(tflite, g).run(xs).reshape(len(xs), -1)
    got = run_host(build_host(tflite, ekrt_build_dir), xs)
    assert np.array_equal(got, want)
    assert len(np.unique(want)) > 20


def test_transformer_ops_clean_under_sanitizers(sweep_cache: Path, ekrt_build_dir: Path) -> None:
    from test_ekrt_exact import SANITIZE

    for name in ("matmul_broadcast_batch", "matmul_self", "mha_causal", "layernorm"):
        spec = next(s for s in T.TFLM_SPECS if s[0] == name)
        n, bad = compare(T.build(spec, sweep_cache), ekrt_build_dir, n_random=4, seed=11, extra_flags=SANITIZE)
        assert bad == 0
