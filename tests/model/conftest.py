"""Small real Keras models for the model-layer tests (built once per module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import import_keras


@pytest.fixture(scope="module")
def lstm_model(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny Keras 3 classifier with a generic RNN layer over a custom-built cell: TensorFlow's
    int8 calibrator segfaults on it (edgekit rewrites LSTM, GRU and SimpleRNN layers so that
    they convert; a generic RNN it leaves as it is)."""
    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 2)), keras.layers.RNN(keras.layers.SimpleRNNCell(4)),
                              keras.layers.Dense(2, activation="softmax")])
    d = tmp_path_factory.mktemp("lstm")
    model.save(d / "lstm.keras")
    x = np.random.default_rng(0).normal(size=(20, 8, 2)).astype(np.float32)
    np.savez(d / "data.npz", x_train=x, x_test=x, y_test=(x[:, 0, 0] > 0).astype(np.int64))
    return d / "lstm.keras", d / "data.npz"


@pytest.fixture(scope="module")
def dense_model(tmp_path_factory) -> tuple[Path, Path]:
    keras = import_keras()
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    d = tmp_path_factory.mktemp("dense")
    model.save(d / "dense.keras")
    x = np.random.default_rng(2).normal(size=(40, 6)).astype(np.float32)
    np.savez(d / "data.npz", x_train=x, x_test=x[:10], y_test=np.arange(10) % 3)
    return d / "dense.keras", d / "data.npz"
