"""digits: LeNet-5-style CNN on scikit-learn's bundled 8x8 handwritten digits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edgekit.examples._common import Example, rng, stratified_split, train_classifier

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


def build_model() -> keras.Model:
    """The untrained CNN: two 3x3 conv + 2x2 max-pool stages (8, 16 filters), Dense(32), 10-way softmax."""
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


def train_model(data: dict[str, np.ndarray], epochs: int, seed: int) -> keras.Model:
    """Adam with a cosine-decayed learning rate, sparse categorical cross-entropy."""
    return train_classifier(build_model, data, epochs, seed)


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
