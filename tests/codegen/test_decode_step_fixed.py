"""The committed decode step (tests/fixtures/models/decode_step.tflite: decode_models.step_model
with T=8, D=16, V=24) in the fast tier: no TensorFlow, only the host compiler and tflite_micro.
Its KV caches are state ports: static arrays the generated code updates one row per step."""

from __future__ import annotations

import numpy as np
import pytest
from ekrt_harness import SHARED_MODELS, build_host, run_host

from edgekit.codegen import compile_model
from edgekit.model.tflite_graph import parse_graph

T, D = 8, 16


def _model() -> bytes:
    return (SHARED_MODELS / "decode_step.tflite").read_bytes()


def test_state_ports_are_static_arrays_outside_the_io_blocks() -> None:
    graph = parse_graph(_model())
    assert sorted(sp.name for sp in graph.state) == ["k0", "v0"]
    compiled = compile_model(graph)
    assert compiled.summary.state_bytes == 2 * T * D
    files = compiled.sources()
    h, c = files["edgekit_model.h"], files["edgekit_model.c"]
    assert "#define EDGEKIT_MODEL_STEPPED 1" in h and "#define EDGEKIT_MODEL_INPUT_BYTES 8" in h
    assert "#define EDGEKIT_MODEL_INPUTS 2\n#define EDGEKIT_MODEL_OUTPUTS 1" in h   # no caches
    assert c.count("static int32_t ekrt_state") == 2 and c.count("ekrt_select_slice(&") == 2
    reset = c[c.index("void edgekit_model_reset"):c.index("int edgekit_model_init")]
    zps = {graph.tensors[sp.input].zero_point for sp in graph.state}
    assert all(f"(int8_t){zp};" in reset for zp in zps) and reset.count(f"i < {T * D}") == 2
    assert "ekrt_copy(" not in c   # both caches computed in their arrays


def test_a_model_without_state_is_not_stepped() -> None:
    h = compile_model(parse_graph((SHARED_MODELS / "sine.tflite").read_bytes())).sources()["edgekit_model.h"]
    assert "#define EDGEKIT_MODEL_STEPPED 0" in h


def test_decode_steps_exact_with_the_reference(ekrt_build_dir) -> None:
    pytest.importorskip("tflite_micro")
    import decode_models as M

    from edgekit.model.reference import int8_interpreter

    tflite = _model()
    graph = parse_graph(tflite)
    values = [[np.array([(5 * p + 3) % 24], np.int32), np.array([p], np.int32)] for p in range(T)]
    ref = int8_interpreter(tflite, graph, backend="tflm")
    ref.reset_state()
    want = np.stack([ref.run_sample(v)[0].reshape(-1) for v in values])
    rows = np.stack([M.input_block(graph, v) for v in values])
    got = run_host(build_host(tflite, ekrt_build_dir), rows, keep_state=True)
    assert np.array_equal(got, want)
