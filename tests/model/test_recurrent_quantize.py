"""Keras 3 Embedding / LSTM / GRU / Bidirectional models to full int8 through their conversion
twin (edgekit.model.recurrent): real training on small synthetic tasks (fixed seeds), real
conversion, TFLM (`tflite_micro`) as the int8 reference; int8 accuracy within 2 points of float."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import ModelError
from tests.conftest import assert_clean_error, import_keras

pytestmark = pytest.mark.tf

STEPS, CHANNELS, VOCAB = 16, 2, 16
FLOAT_OPS = ("WHILE", "DEQUANTIZE", "QUANTIZE", "SELECT", "SELECT_V2", "SPLIT")


@dataclass
class Trained:
    model: object
    path: Path
    data: Path


def _sensor_windows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sine/cosine windows of 1, 2 or 3 cycles (the class), random phase and amplitude, noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    t = np.arange(STEPS) / STEPS
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    amp = rng.uniform(0.5, 1.5, (n, 1))
    arg = 2 * np.pi * (y[:, None] + 1) * t[None] + phase
    x = np.stack([amp * np.sin(arg), amp * np.cos(arg)], axis=-1) + rng.normal(0, 0.1, (n, STEPS, CHANNELS))
    return x.astype(np.float32), y.astype(np.int64)


def _token_sequences(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ten tokens from 4..15 with one marker token 1, 2 or 3 (the class) at a random place."""
    rng = np.random.default_rng(seed)
    x = rng.integers(4, VOCAB, (n, 10))
    y = rng.integers(0, 3, n)
    x[np.arange(n), rng.integers(0, 10, n)] = y + 1
    return x.astype(np.int32), y.astype(np.int64)


def _train(tmp: Path, name: str, layers: list, data: tuple, epochs: int) -> Trained:
    keras = import_keras()
    keras.utils.set_random_seed(3)
    (x, y), (xt, yt) = data
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    path = tmp / f"{name}.keras"
    model.save(path)
    np.savez(tmp / f"{name}.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    return Trained(model, path, tmp / f"{name}.npz")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Trained]:
    keras = import_keras()
    L = keras.layers
    tmp = tmp_path_factory.mktemp("recurrent")
    sensor = (_sensor_windows(480, 0), _sensor_windows(150, 1))
    text = (_token_sequences(480, 2), _token_sequences(150, 3))
    return {
        # Token ids in, Embedding -> LSTM (last step) -> classifier.
        "text": _train(tmp, "text", [keras.Input((10,), dtype="int32"), L.Embedding(VOCAB, 8), L.LSTM(16),
                                     L.Dense(3, activation="softmax")], text, 12),
        # Float sensor windows: stacked LSTM (return_sequences) -> GRU (reset_after=True, Keras' default).
        "stacked": _train(tmp, "stacked", [keras.Input((STEPS, CHANNELS)), L.LSTM(12, return_sequences=True),
                                           L.GRU(8), L.Dense(3, activation="softmax")], sensor, 10),
        # Bidirectional LSTM (sequences, concat) -> Bidirectional GRU (reset_after=False, sum).
        "bidirectional": _train(tmp, "bidirectional", [
            keras.Input((STEPS, CHANNELS)), L.Bidirectional(L.LSTM(6, return_sequences=True)),
            L.Bidirectional(L.GRU(6, reset_after=False), merge_mode="sum"), L.Dense(3, activation="softmax")],
            sensor, 10),
    }


@pytest.mark.parametrize("name, fused_lstms, gru", [("text", 1, False), ("stacked", 1, True),
                                                    ("bidirectional", 2, True)])
def test_recurrent_model_quantizes_to_full_int8_that_tflm_runs_within_2_points(models, name, fused_lstms, gru,
                                                                               tmp_path) -> None:
    from edgekit.model.quant_report import quantize_file
    from edgekit.model.tflite_graph import load_graph

    trained = models[name]
    out = tmp_path / f"{name}.tflite"
    report = quantize_file(trained.path, trained.data, out)
    graph = load_graph(out)
    ops = [op.op for op in graph.operators]
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == fused_lstms, ops
    from edgekit.model.recurrent_layers import LSTM_CELL_CLIP  # the twin's float check clips as the op does

    assert {op.options["cell_clip"] for op in graph.operators if op.op == "UNIDIRECTIONAL_SEQUENCE_LSTM"} \
        == {LSTM_CELL_CLIP}
    assert not set(ops) & set(FLOAT_OPS), ops
    # Every tensor an op reads or writes is integer (the fused LSTM's unused layer-norm
    # intermediates stay float32 without quantization; no op touches them).
    used = {graph.tensors[i].dtype for op in graph.operators for i in op.inputs + op.outputs if i >= 0}
    assert used <= {"int8", "int16", "int32"}, used
    if gru:  # unrolled in int8
        assert {"UNPACK", "FULLY_CONNECTED", "LOGISTIC", "TANH", "MUL"} <= set(ops), ops
    if name == "text":  # token ids stay int32 end to end; the table is one int8 GATHER
        assert graph.input_tensors[0].dtype == "int32" and report.input["scale"] is None
        assert "GATHER" in ops
    else:
        assert graph.input_tensors[0].dtype == "int8"
    assert report.int8_backend == "tflm"
    assert report.float_value is not None and report.int8_value is not None
    assert report.float_value >= 0.9, report.float_value  # the task was learnt
    assert report.int8_value >= report.float_value - 0.02, (report.float_value, report.int8_value)
    assert report.agreement["share"] >= 0.95, report.agreement  # same class as float, sample by sample


@pytest.mark.parametrize("name", ["text", "stacked", "bidirectional"])
def test_twin_matches_the_keras_model_in_float(models, name) -> None:
    from edgekit.model import recurrent

    trained = models[name]
    twin = recurrent.build_twin(trained.model, name)
    x = np.load(trained.data)["x_test"]
    assert recurrent.check_twin(trained.model, twin, x, name) < 1e-5
    kinds = [r.kind for r in twin.rewrites]
    assert kinds == {"text": ["Embedding", "LSTM"], "stacked": ["LSTM", "GRU"],
                     "bidirectional": ["Bidirectional", "Bidirectional"]}[name]
    assert twin.input_dtype == ("int32" if name == "text" else "float32")


def test_a_twin_that_disagrees_names_the_layer(models) -> None:
    from edgekit.model import recurrent

    trained = models["stacked"]
    twin = recurrent.build_twin(trained.model, "m.keras")
    gru = next(r for r in twin.rewrites if r.kind == "GRU").twin
    gru.w[0].assign(gru.w[0].numpy() + 0.5)
    with pytest.raises(ModelError, match=r"m.keras: edgekit's rewrite of layer '\w+' \(GRU\) disagrees with Keras"):
        recurrent.check_twin(trained.model, twin, np.load(trained.data)["x_test"], "m.keras")


@pytest.mark.parametrize("layer, fragment", [
    ("lstm_relu", "activation='relu'"),
    ("gru_stateful", "stateful=True"),
    ("masked", "masks time steps"),
    ("rnn_sigmoid", "activation='sigmoid'"),
])
def test_unsupported_options_are_refused_naming_the_layer(layer, fragment) -> None:
    from edgekit.model import recurrent

    keras = import_keras()
    L = keras.layers
    model = {
        "lstm_relu": lambda: keras.Sequential([keras.Input((4, 2)), L.LSTM(3, activation="relu", name="lstm_relu")]),
        "gru_stateful": lambda: keras.Sequential([keras.Input(batch_shape=(1, 4, 2)),
                                                  L.GRU(3, stateful=True, name="gru_stateful")]),
        "masked": lambda: keras.Sequential([keras.Input((4,), dtype="int32"),
                                            L.Embedding(8, 3, mask_zero=True, name="masked"), L.LSTM(3)]),
        "rnn_sigmoid": lambda: keras.Sequential([keras.Input((4, 2)),
                                                 L.SimpleRNN(3, activation="sigmoid", name="rnn_sigmoid")]),
    }[layer]()
    with pytest.raises(ModelError, match=f"layer '{layer}' .*cannot be converted to int8: .*{fragment}"):
        recurrent.build_twin(model, "m.keras")


def test_cli_refuses_an_unsupported_lstm_with_one_line_exit_2(cli, tmp_path) -> None:
    keras = import_keras()
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.LSTM(3, activation="relu", name="odd_lstm"),
                              keras.layers.Dense(2)])
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "d.npz", x_train=np.zeros((4, 4, 2), np.float32))
    r = cli("quantize", tmp_path / "m.keras", "--calib", tmp_path / "d.npz")
    assert_clean_error(r, 2, "layer 'odd_lstm' (LSTM)", "activation='relu'")
    assert not (tmp_path / "m.tflite").exists()


@pytest.mark.filterwarnings("ignore:Layer 'flatten'.*mask:UserWarning")  # Keras on the test model itself
def test_embedding_mask_is_ignored_where_no_layer_uses_it_and_refused_where_one_does() -> None:
    from edgekit.model import recurrent

    keras = import_keras()
    L = keras.layers
    keras.utils.set_random_seed(0)
    ids = np.random.default_rng(0).integers(0, 10, (20, 6)).astype(np.float32)  # float ids: the twin takes int32
    flat = keras.Sequential([keras.Input((6,)), L.Embedding(10, 4, mask_zero=True), L.Flatten(), L.Dense(3)])
    twin = recurrent.build_twin(flat, "flat.keras")
    assert twin.input_dtype == "int32" and recurrent.check_twin(flat, twin, ids, "flat.keras") < 1e-6
    pooled = keras.Sequential([keras.Input((6,), dtype="int32"), L.Embedding(10, 4, mask_zero=True, name="emb"),
                               L.GlobalAveragePooling1D(), L.Dense(3)])
    with pytest.raises(ModelError, match="rewrite of layer.* 'emb' disagrees with Keras") as info:
        recurrent.check_twin(pooled, recurrent.build_twin(pooled, "pooled.keras"), ids, "pooled.keras")
    assert "mask_zero=True" in (info.value.hint or "")
