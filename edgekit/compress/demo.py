"""Two models that do not fit a NUCLEO-F446RE (512 KiB flash, 128 KiB RAM), on the digits
example's data: what `edgekit compress` is measured on (benchmarks/bench_compress.py, tests).

- wide_mlp: 8x8 -> Dense(1024) -> Dense(512) -> 10: about 595 k int8 weights, over the flash;
- wide_cnn: Conv2D(2560, 3x3) on 8x8: a 160 KiB int8 activation, over the RAM.
Both train in seconds and reach the digits CNN's accuracy; same seed, same weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


def _wide_mlp() -> Any:
    import keras
    from keras import layers as L

    return keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(1024, activation="relu", name="fc1"),
                             L.Dense(512, activation="relu", name="fc2"),
                             L.Dense(10, activation="softmax", name="out")], name="wide_mlp")


def _wide_cnn() -> Any:
    import keras
    from keras import layers as L

    return keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(2560, 3, padding="same", activation="relu", name="conv1"),
                             L.MaxPooling2D(2, name="pool"), L.Conv2D(16, 1, activation="relu", name="conv2"),
                             L.Flatten(), L.Dense(10, activation="softmax", name="out")], name="wide_cnn")


@dataclass(frozen=True)
class DemoModel:
    """A model builder and how long to train it."""

    name: str
    build: Callable[[], Any]
    epochs: int
    overflows: str


DEMOS = {d.name: d for d in (DemoModel("wide_mlp", _wide_mlp, 15, "flash"),
                             DemoModel("wide_cnn", _wide_cnn, 10, "RAM"))}


def train_demo(name: str, data: dict[str, np.ndarray], *, seed: int = 0, epochs: int | None = None) -> Any:
    """Build and train demo model `name` on digits data (edgekit.examples.digits.make_data)."""
    from edgekit.examples._common import fit_cosine_adam
    from edgekit.model.keras_io import import_tensorflow

    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    demo = DEMOS[name]
    return fit_cosine_adam(demo.build(), data["x_train"], data["y_train"], epochs=epochs or demo.epochs,
                           loss="sparse_categorical_crossentropy", learning_rate=0.003)


__all__ = ["DEMOS", "DemoModel", "train_demo"]
