"""Pre-norm transformer classifiers (Embedding, LayerNormalization or RMSNormalization, causal
MultiHeadAttention, residual Adds, a Dense(gelu or silu) feed-forward, pooling, softmax)
trained a few epochs on the synthetic token task of test_transformer_e2e.py, through
`edgekit quantize` (the normalizations through edgekit.model.norm_twin: full integer, no float
op) and run on edgekit-rt on the host build and on the emulated Cortex-M4F (generate, build,
`hil --require-exact`): every output byte equal to the host reference (TFLM; for the GELU
model TFLM with LiteRT's GELU table, edgekit.model.table_twin)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import import_keras, run_cli

pytest.importorskip("tflite_micro")

from ekrt_harness import build_host, run_host
from test_transformer_e2e import STEPS, VOCAB, _tokens, hil_exact_on_the_virtual_board

pytestmark = pytest.mark.tf

# norm layer, feed-forward activation, the host reference edgekit names
CASES = {
    "layernorm": ("LayerNormalization", "gelu", "tflm: GELU by LiteRT's reference kernel (TFLM has none)"),
    "rmsnorm": ("RMSNormalization", "silu", "tflm"),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def quantized(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes, np.ndarray, dict]:
    """The trained classifier through `edgekit quantize`: (case, int8 model, test tokens, report)."""
    case = request.param
    norm, act, _ = CASES[case]
    keras = import_keras()
    L = keras.layers
    keras.utils.set_random_seed(13)
    rng = np.random.default_rng(13)
    (x_train, y_train), (x_test, y_test) = _tokens(rng, 1000), _tokens(rng, 200)
    inp = keras.Input((STEPS,), dtype="int32")
    h = L.Embedding(VOCAB, 16)(inp)
    a = getattr(L, norm)()(h)
    h = L.Add()([h, L.MultiHeadAttention(2, 8)(a, a, use_causal_mask=True)])
    b = getattr(L, norm)()(h)
    h = L.Add()([h, L.Dense(16)(L.Dense(32, activation=act)(b))])
    model = keras.Model(inp, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(h)))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=6, batch_size=32, verbose=0)
    d = tmp_path_factory.mktemp(case)
    model.save(d / "model.keras")
    np.savez(d / "data.npz", x_train=x_train, y_train=y_train, x_calib=x_train[:100], x_test=x_test,
             y_test=y_test)
    r = run_cli("quantize", d / "model.keras", "--calib", d / "data.npz", "--task", "classification", "--json")
    assert r.returncode == 0, r.stderr
    return case, (d / "model.tflite").read_bytes(), x_test, json.loads(r.stdout)


def test_normalized_transformer_is_full_integer_and_exact_on_the_host(quantized, ekrt_build_dir: Path) -> None:
    case, tflite, x_test, report = quantized
    from edgekit.model.reference import int8_interpreter
    from edgekit.model.tflite_graph import parse_graph

    graph = parse_graph(tflite)
    ops = [op.op for op in graph.operators]
    # the twin's ops, nothing left in float (no NEG, SQUARE, DEQUANTIZE or QUANTIZE)
    norm_ops = {"MEAN", "SQUARED_DIFFERENCE", "SUB", "RSQRT"} if case == "layernorm" else {"MEAN", "RSQRT"}
    assert norm_ops | {"GATHER", "BATCH_MATMUL", "SOFTMAX", "TRANSPOSE"} <= set(ops), ops
    assert not {"NEG", "SQUARE", "DEQUANTIZE", "QUANTIZE"} & set(ops), ops
    assert all(graph.tensors[i].dtype != "float32" for op in graph.operators for i in op.inputs + op.outputs)
    # it learnt, and int8 keeps it (about 0.86/0.88, float 0.85/0.875; with Keras' -3.4e38 causal
    # mask constant int8 fell to 0.63: edgekit.model.mask_twin)
    assert report["float_value"] > 0.8 and report["int8_value"] > 0.8, report
    print(case, "accuracy float", report["float_value"], "int8", report["int8_value"])
    reference = int8_interpreter(tflite, graph)
    assert reference.label == CASES[case][2]
    got = run_host(build_host(tflite, ekrt_build_dir), x_test)
    assert np.array_equal(got.reshape(len(x_test), -1), reference.run(x_test).reshape(len(x_test), -1))


@pytest.mark.toolchain
@pytest.mark.qemu
def test_normalized_transformer_exact_on_the_virtual_board(quantized, tmp_path: Path) -> None:
    case, tflite, x_test, _ = quantized
    report = hil_exact_on_the_virtual_board(tflite, x_test[:6], tmp_path)
    assert report["host_reference"] == CASES[case][2]
    print(case, "instructions per inference:", report["infer_cycles"])
