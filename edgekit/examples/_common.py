"""The Example record and the helpers the example modules share (private)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import keras


@dataclass(frozen=True)
class Example:
    """One bundled example: how to make its data and train its model."""

    name: str  # "sine" | "gesture" | "anomaly" | "digits" | "text" | "story"
    task: str  # "regression" | "classification" | "anomaly" | "next-word"
    description: str  # one line
    input_shape: tuple[int, ...]  # without batch, e.g. (128, 3)
    class_names: tuple[str, ...] | None  # classification only
    epochs: int  # default epochs (the <1 minute CI setting of a quick example)
    make_data: Callable[[int], dict[str, np.ndarray]]
    train_model: Callable[[dict[str, np.ndarray], int, int], keras.Model]
    input_units: str | None = None  # physical unit of the inputs ("g"), when they have one
    decode: bool = False  # a causal LM, deployed as its decode step (quantize --decode)
    prompt: str | None = None  # a text example's: what `edgekit complete` starts from unless told
    # Trains at its default epochs in under a minute: the test matrix and the benchmarks that train
    # every example take the quick ones (tests/test_examples.py, benchmarks/bench_quantize.py).
    quick: bool = True


def rng(seed: int, stream: int = 0) -> np.random.Generator:
    """A numpy Generator that depends only on (seed, stream)."""
    return np.random.default_rng([int(seed), int(stream)])


def stratified_split(
    y: np.ndarray, test_fraction: float, gen: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled train/test index arrays with every class split in the same proportion."""
    train, test = [], []
    for c in np.unique(y):
        idx = gen.permutation(np.flatnonzero(y == c))
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return gen.permutation(np.concatenate(train)), gen.permutation(np.concatenate(test))


def fit_cosine_adam(model: keras.Model, x: np.ndarray, y: np.ndarray, *, epochs: int, loss: str,
                    learning_rate: float, batch: int = 32) -> keras.Model:
    """Compile with Adam and a cosine-decayed learning rate, then fit (shuffled, silent)."""
    import math

    import keras

    steps = epochs * math.ceil(len(x) / batch)
    lr = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
    model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=True, verbose=0)
    return model


def train_classifier(build_model: Callable[[], keras.Model], data: dict[str, np.ndarray], epochs: int,
                     seed: int) -> keras.Model:
    """A softmax classifier built after seeding (same seed, same weights), trained with Adam,
    a cosine-decayed learning rate and sparse categorical cross-entropy."""
    import keras

    keras.utils.set_random_seed(seed)
    return fit_cosine_adam(build_model(), data["x_train"], data["y_train"], epochs=epochs,
                           loss="sparse_categorical_crossentropy", learning_rate=0.005)
