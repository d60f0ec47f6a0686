"""Small, seeded models and the digits data for the compression tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.data import save_dataset
from tests.conftest import import_keras


@pytest.fixture(scope="session")
def digits() -> dict[str, np.ndarray]:
    from edgekit.examples.digits import make_data

    return make_data(0)


@pytest.fixture(scope="session")
def digits_npz(digits, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("digits") / "digits.npz"
    save_dataset(path, digits)
    return path


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0, batch_size=256), axis=1) == y))


@pytest.fixture(scope="session")
def digits_mlp(digits, tmp_path_factory):
    """A seeded digits MLP 64 -> 96 -> 48 -> 10 (trained 12 epochs) and its .keras path."""
    from edgekit.examples._common import fit_cosine_adam

    keras = import_keras()
    L = keras.layers
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(96, activation="relu", name="fc1"),
                              L.Dense(48, activation="relu", name="fc2"),
                              L.Dense(10, activation="softmax", name="out")])
    fit_cosine_adam(model, digits["x_train"], digits["y_train"], epochs=12, loss="sparse_categorical_crossentropy",
                    learning_rate=0.005)
    path = tmp_path_factory.mktemp("mlp") / "mlp.keras"
    model.save(path)
    return model, path
