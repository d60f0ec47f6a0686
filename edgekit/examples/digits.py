"""digits: LeNet-5-style CNN on scikit-learn's bundled 8x8 handwritten digits."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from edgekit.examples import Example
from edgekit.examples._common import rng, stratified_split

if TYPE_CHECKING:  # pragma: no cover
    import keras

TEST_FRACTION = 0.25
N_CALIB = 300
CLASS_NAMES = tuple(str(d) for d in range(10))


def make_data(seed: int) -> dict[str, np.ndarray]:
    """load_digits (1,797 images, bundled with scikit-learn), scaled to [0, 1], shape (8, 8, 1).

    The seed picks a stratified 75/25 train/test split; x_calib is drawn from x_train.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    y = d.target.astype(np.int64)
    g = rng(seed, 4)
    train, test = stratified_split(y, TEST_FRACTION, g)
    calib = g.choice(train, N_CALIB, replace=False)
    return {
        "x_train": x[train],
        "y_train": y[train],
        "x_test": x[test],
        "y_test": y[test],
        "x_calib": x[calib],
    }


def build_model() -> "keras.Model":
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),  # 4x4
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),  # 2x2
            layers.Flatten(),
            layers.Dense(32, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name="digits",
    )


def train_model(data: dict[str, np.ndarray], epochs: int, seed: int) -> "keras.Model":
    """Adam with a cosine-decayed learning rate, sparse categorical cross-entropy."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model()
    batch = 32
    steps = epochs * math.ceil(len(data["x_train"]) / batch)
    lr = keras.optimizers.schedules.CosineDecay(0.005, steps, alpha=0.05)
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        data["x_train"], data["y_train"], batch_size=batch, epochs=epochs, shuffle=True, verbose=0
    )
    return model


EXAMPLE = Example(
    name="digits",
    task="classification",
    description="handwritten digits 0-9 (scikit-learn's bundled 8x8 images); LeNet-5-style CNN",
    input_shape=(8, 8, 1),
    class_names=CLASS_NAMES,
    epochs=30,
    make_data=make_data,
    train_model=train_model,
)
