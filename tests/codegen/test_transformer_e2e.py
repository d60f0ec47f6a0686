"""A Keras 3 transformer-style classifier (Embedding, causal MultiHeadAttention, residual Adds,
a Dense(gelu) feed-forward, pooling, softmax) trained a few epochs on a synthetic token task,
quantized with `edgekit quantize` and run on edgekit-rt: on the host build and on the emulated
Cortex-M4F (through generate, build and `hil --require-exact`), every output byte equal to the
host reference: TFLM running the model with its GELU as a GATHER of LiteRT's GELU table
(edgekit.model.table_twin; TFLM has no GELU, and LiteRT's SOFTMAX/BATCH_MATMUL/FULLY_CONNECTED
differ from TFLM's by an LSB on a few outputs).
Pre-norm blocks (LayerNormalization, RMSNormalization): test_transformer_norm_e2e.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import import_keras, run_cli

pytest.importorskip("tflite_micro")

from ekrt_harness import build_host, run_host

pytestmark = pytest.mark.tf

STEPS, VOCAB = 8, 24


def _tokens(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids in 3 topic groups (3-9, 10-16, 17-23): the label is the commonest group."""
    x = rng.integers(0, VOCAB, (n, STEPS)).astype(np.int32)
    counts = np.stack([((x >= lo) & (x < lo + 7)).sum(1) for lo in (3, 10, 17)], axis=1)
    return x, np.argmax(counts + rng.random(counts.shape) * 0.1, axis=1).astype(np.int64)


@pytest.fixture(scope="module")
def quantized(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, np.ndarray, dict]:
    """The trained classifier through `edgekit quantize`: (int8 model, test tokens, report)."""
    import json

    keras = import_keras()
    L = keras.layers
    keras.utils.set_random_seed(11)
    rng = np.random.default_rng(11)
    (x_train, y_train), (x_test, y_test) = _tokens(rng, 1000), _tokens(rng, 200)
    inp = keras.Input((STEPS,), dtype="int32")
    h = L.Embedding(VOCAB, 16)(inp)
    h = L.Add()([h, L.MultiHeadAttention(2, 8)(h, h, use_causal_mask=True)])
    h = L.Add()([h, L.Dense(16)(L.Dense(32, activation="gelu")(h))])
    model = keras.Model(inp, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(h)))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=6, batch_size=32, verbose=0)
    d = tmp_path_factory.mktemp("transformer")
    model.save(d / "model.keras")
    np.savez(d / "data.npz", x_train=x_train, y_train=y_train, x_calib=x_train[:100], x_test=x_test,
             y_test=y_test)
    r = run_cli("quantize", d / "model.keras", "--calib", d / "data.npz", "--task", "classification", "--json")
    assert r.returncode == 0, r.stderr
    return (d / "model.tflite").read_bytes(), x_test, json.loads(r.stdout)


def test_transformer_classifier_exact_on_the_host(quantized, ekrt_build_dir: Path) -> None:
    tflite, x_test, report = quantized
    assert {"GATHER", "BATCH_MATMUL", "SELECT_V2", "SOFTMAX", "GELU", "TRANSPOSE"} <= set(report["ops"])
    assert report["float_value"] > 0.8 and report["int8_value"] > 0.75, report   # it learnt
    from edgekit.model.reference import int8_interpreter
    from edgekit.model.tflite_graph import parse_graph

    reference = int8_interpreter(tflite, parse_graph(tflite))
    assert reference.label == "tflm: GELU by LiteRT's reference kernel (TFLM has none)"
    got = run_host(build_host(tflite, ekrt_build_dir), x_test)
    assert np.array_equal(got.reshape(len(x_test), -1), reference.run(x_test).reshape(len(x_test), -1))


@pytest.mark.toolchain
@pytest.mark.qemu
def test_transformer_classifier_exact_on_the_virtual_board(quantized, tmp_path: Path) -> None:

    tflite, x_test, _ = quantized
    report = hil_exact_on_the_virtual_board(tflite, x_test[:6], tmp_path)
    assert report["host_reference"] == "tflm: GELU by LiteRT's reference kernel (TFLM has none)"


def hil_exact_on_the_virtual_board(tflite: bytes, x: np.ndarray, tmp_path: Path) -> dict:
    """generate (default runtime) + build + `hil --require-exact` on `x`: the report, after
    checking edgekit-rt ran it and every output equals the host reference."""
    import json

    path, data = tmp_path / "model.tflite", tmp_path / "test.npz"
    path.write_bytes(tflite)
    np.savez(data, x_test=x)
    assert run_cli("generate", path, "--board", "qemu-netduinoplus2", "-o", tmp_path / "fw").returncode == 0
    assert run_cli("build", tmp_path / "fw").returncode == 0
    r = run_cli("hil", tmp_path / "fw", "--data", data, "--runs", "2", "--require-exact", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["device"]["runtime"].startswith("edgekit-rt") and report["agreement"]["exact_share"] == 1.0
    return report
