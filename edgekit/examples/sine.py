"""sine: regress y = sin(x) on [0, 2*pi) from noisy targets (the TFLM "hello world")."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from edgekit.examples._common import Example, rng

if TYPE_CHECKING:  # pragma: no cover
    import keras

N_TRAIN = 1000
N_TEST = 300
N_CALIB = 300
NOISE_STD = 0.1  # on the training targets only; test targets are the clean sine


def make_data(seed: int) -> dict[str, np.ndarray]:
    """x uniform in [0, 2*pi); y_train = sin(x) + N(0, 0.1^2); y_test = sin(x)."""
    g = rng(seed, 1)
    two_pi = 2.0 * math.pi
    x_train = g.uniform(0.0, two_pi, (N_TRAIN, 1))
    y_train = np.sin(x_train) + g.normal(0.0, NOISE_STD, x_train.shape)
    x_test = g.uniform(0.0, two_pi, (N_TEST, 1))
    y_test = np.sin(x_test)
    x_calib = g.uniform(0.0, two_pi, (N_CALIB, 1))
    f32 = np.float32
    return {
        "x_train": x_train.astype(f32),
        "y_train": y_train.astype(f32),
        "x_test": x_test.astype(f32),
        "y_test": y_test.astype(f32),
        "x_calib": x_calib.astype(f32),
    }


def build_model() -> keras.Model:
    """The untrained MLP 1 -> 16 -> 16 -> 1, ReLU, with a little L2 on the hidden kernels."""
    import keras

    # A little L2 on the hidden kernels keeps the weights balanced, which roughly halves
    # the int8-vs-float gap of this tiny net (per-channel int8 weights, per-tensor activations).
    reg = keras.regularizers.l2(1e-3)
    return keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(16, activation="relu", kernel_regularizer=reg),
            keras.layers.Dense(16, activation="relu", kernel_regularizer=reg),
            keras.layers.Dense(1),
        ],
        name="sine",
    )


def _equalize_ranges(model: keras.Model, x: np.ndarray) -> None:
    """Scale each hidden ReLU unit so every unit of a layer reaches the same maximum on `x`.

    ReLU is positively homogeneous (relu(c*z) = c*relu(z) for c > 0), so scaling a unit's
    incoming weights and bias by c and its outgoing weights by 1/c leaves the float function
    unchanged. int8 activations share one scale per tensor: after this, small units no
    longer lose most of their resolution to the largest one.
    """
    h = x.astype(np.float64)
    dense = model.layers
    for layer, nxt in zip(dense[:-1], dense[1:]):
        (w, b), (w2, b2) = layer.get_weights(), nxt.get_weights()
        top = np.maximum(h @ w + b, 0.0).max(axis=0)
        c = np.where(top > 1e-3 * top.max(), top.max() / np.maximum(top, 1e-12), 1.0)
        layer.set_weights([(w * c).astype(np.float32), (b * c).astype(np.float32)])
        nxt.set_weights([(w2 / c[:, None]).astype(np.float32), b2])
        h = np.maximum(h @ (w * c) + b * c, 0.0)


def _snap_to_int8_grid(layer: keras.layers.Dense) -> None:
    """Round a Dense kernel to the per-output-channel symmetric int8 grid the converter uses.

    The converter then quantizes these weights exactly (no weight rounding error left).
    """
    w, b = layer.get_weights()
    scale = np.abs(w).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    layer.set_weights([(np.round(w / scale) * scale).astype(np.float32), b])


def train_model(data: dict[str, np.ndarray], epochs: int, seed: int) -> keras.Model:
    """Dense 1->16->16->1, Adam with cosine decay, MSE (+ L2), then an int8-friendly finish.

    The finish matters because the float MAE (~0.015) is only a few int8 steps: equalize the
    hidden units' ranges, then layer by layer snap the kernel to its int8 grid, freeze it and
    briefly fine-tune the layers after it. Int8 then stays within a few % of float.
    """
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model()
    x, y = data["x_train"], data["y_train"]
    batch = 32
    steps_per_epoch = math.ceil(len(x) / batch)

    def fit(n_epochs: int, lr0: float) -> None:
        lr = keras.optimizers.schedules.CosineDecay(lr0, n_epochs * steps_per_epoch, alpha=0.05)
        model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
        model.fit(x, y, batch_size=batch, epochs=n_epochs, shuffle=True, verbose=0)

    fit(epochs, 0.01)
    _equalize_ranges(model, x)
    finish_epochs = max(1, epochs // 15)
    for i, layer in enumerate(model.layers):
        _snap_to_int8_grid(layer)
        layer.trainable = False
        if i < len(model.layers) - 1:
            fit(finish_epochs, 0.002)
    for layer in model.layers:
        layer.trainable = True
    return model


EXAMPLE = Example(
    name="sine",
    task="regression",
    description="y = sin(x) on [0, 2*pi) from noisy samples; dense 1-16-16-1 (TFLM hello world)",
    input_shape=(1,),
    class_names=None,
    epochs=150,
    make_data=make_data,
    train_model=train_model,
)
