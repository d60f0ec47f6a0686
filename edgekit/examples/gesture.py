"""gesture: classify 3-axis accelerometer windows (128 samples at 100 Hz, in g).

The synthetic generator draws each gesture's linear acceleration in a canonical frame,
rotates it by a random 3-D rotation (the wearer's hand can face any way), adds gravity
(1 g in a random direction, slowly tilting), a per-axis sensor offset, slow drift and
white sensor noise. Variation: amplitude, speed (frequency / duration), phase and timing.

  idle    hand at rest: gravity, tremor, drift and noise only
  wave    side-to-side along one axis, 1.6-3.0 Hz, with a small wrist-roll tilt
  circle  a circle/ellipse in a plane, 0.6-1.3 Hz (two axes in quadrature)
  shake   fast irregular shaking, 5-9 Hz, large amplitude
  punch   one or two short strong thrusts (accelerate, then brake) at a random time
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from edgekit.examples._common import Example, rng, train_classifier

if TYPE_CHECKING:  # pragma: no cover
    import keras

FS = 100.0  # Hz
WINDOW = 128
CLASS_NAMES = ("idle", "wave", "circle", "shake", "punch")
N_TRAIN_PER_CLASS = 300
N_TEST_PER_CLASS = 80
N_CALIB = 200


def _random_rotation(g: np.random.Generator) -> np.ndarray:
    """A rotation matrix uniformly distributed over SO(3) (from a random unit quaternion)."""
    w, x, y, z = g.normal(size=4)
    n = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, x / n, y / n, z / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _smooth_noise(g: np.random.Generator, n: int, width: int) -> np.ndarray:
    """Low-pass noise (moving average of white noise), unit-ish std, shape (n,)."""
    k = np.ones(width) / math.sqrt(width)
    return np.convolve(g.normal(size=n + width - 1), k, mode="valid")


def _motion(g: np.random.Generator, label: int, t: np.ndarray) -> tuple[np.ndarray, float]:
    """Linear acceleration (WINDOW, 3) of one gesture in its canonical frame, and a tilt (rad)
    signal amplitude for the wrist roll that goes with it."""
    n = len(t)
    a = np.zeros((n, 3))
    name = CLASS_NAMES[label]
    if name == "idle":
        amp = g.uniform(0.005, 0.03)
        for ax in range(3):
            a[:, ax] = amp * _smooth_noise(g, n, 8)
        return a, 0.0
    if name == "wave":
        f = g.uniform(1.6, 3.0)
        amp = g.uniform(0.35, 1.1)
        ph = g.uniform(0, 2 * math.pi)
        s = np.sin(2 * math.pi * f * t + ph)
        a[:, 0] = amp * s
        a[:, 1] = amp * g.uniform(-0.15, 0.15) * s  # slightly off-axis, still in phase
        a[:, 0] += amp * g.uniform(0.0, 0.15) * np.sin(4 * math.pi * f * t + 2 * ph)
        return a, g.uniform(0.1, 0.4)
    if name == "circle":
        f = g.uniform(0.6, 1.3)
        amp = g.uniform(0.3, 0.9)
        ecc = g.uniform(0.6, 1.0)
        ph = g.uniform(0, 2 * math.pi)
        direction = g.choice([-1.0, 1.0])
        a[:, 0] = amp * np.cos(2 * math.pi * f * t + ph)
        a[:, 1] = direction * amp * ecc * np.sin(2 * math.pi * f * t + ph)
        return a, 0.0
    if name == "shake":
        f = g.uniform(5.0, 9.0)
        amp = g.uniform(0.8, 2.5)
        # irregular: frequency jitter by a slowly varying phase, plus a harmonic
        phase = 2 * math.pi * f * t + 0.6 * np.cumsum(_smooth_noise(g, n, 10)) / FS * 2 * math.pi
        s = np.sin(phase + g.uniform(0, 2 * math.pi))
        a[:, 0] = amp * s
        a[:, 1] = amp * g.uniform(-0.3, 0.3) * s
        a[:, 2] = amp * g.uniform(0.0, 0.3) * np.sin(2 * phase)
        return a, g.uniform(0.0, 0.2)
    # punch: accelerate forward then brake (derivative of a Gaussian velocity bump)
    n_punch = 1 if g.random() < 0.7 else 2
    for i in range(n_punch):
        t0 = g.uniform(0.2, 1.05) if n_punch == 1 else g.uniform(0.15, 0.5) + 0.55 * i
        width = g.uniform(0.035, 0.08)  # s
        amp = g.uniform(1.5, 4.0)
        u = (t - t0) / width
        bump = -u * np.exp(0.5 - 0.5 * u * u)  # peak 1 at u = -1, -1 at u = +1
        a[:, 0] += amp * bump
        a[:, 1] += amp * g.uniform(-0.15, 0.15) * bump
    return a, 0.0


def _window(g: np.random.Generator, label: int) -> np.ndarray:
    t = np.arange(WINDOW) / FS
    motion, roll = _motion(g, label, t)
    rot = _random_rotation(g)
    acc = motion @ rot.T
    # gravity: 1 g along a random direction, tilting slowly (drift) and with wrist roll
    gdir = _random_rotation(g) @ np.array([0.0, 0.0, 1.0])
    drift_axis = np.cross(gdir, g.normal(size=3))
    drift_axis /= np.linalg.norm(drift_axis)
    tilt = g.uniform(-0.15, 0.15) * t / t[-1]  # rad over the window
    if roll:
        tilt = tilt + roll * np.sin(2 * math.pi * g.uniform(1.6, 3.0) * t)
    grav = np.cos(tilt)[:, None] * gdir + np.sin(tilt)[:, None] * drift_axis
    offset = g.normal(0.0, 0.03, 3)
    drift = np.outer(t / t[-1], g.normal(0.0, 0.02, 3))
    noise = g.normal(0.0, g.uniform(0.01, 0.04), (WINDOW, 3))
    return acc + grav + offset + drift + noise


def _make_split(g: np.random.Generator, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.repeat(np.arange(len(CLASS_NAMES), dtype=np.int64), per_class)
    y = y[g.permutation(len(y))]
    x = np.stack([_window(g, int(c)) for c in y]).astype(np.float32)
    return x, y


def make_data(seed: int) -> dict[str, np.ndarray]:
    """Balanced train (300/class) and test (80/class) windows; x_calib from x_train."""
    g = rng(seed, 2)
    x_train, y_train = _make_split(g, N_TRAIN_PER_CLASS)
    x_test, y_test = _make_split(g, N_TEST_PER_CLASS)
    calib = g.choice(len(x_train), N_CALIB, replace=False)
    return {
        "x_train": x_train,
        "y_train": y_train,
        "x_test": x_test,
        "y_test": y_test,
        "x_calib": x_train[calib],
    }


def build_model() -> keras.Model:
    """The untrained 1-D CNN: three Conv1D + BatchNorm + ReLU stages, global average pooling, Dense(16), softmax."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((WINDOW, 3)),
            # BatchNormalization folds into the convolutions at conversion; it also makes
            # the int8 model track the float one (without it: -3 points on circle vs wave)
            layers.Conv1D(12, 5, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.MaxPooling1D(4),  # 32 steps
            layers.Conv1D(16, 5, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.MaxPooling1D(2),  # 16 steps
            layers.Conv1D(24, 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.GlobalAveragePooling1D(),
            layers.Dense(16, activation="relu"),
            layers.Dense(len(CLASS_NAMES), activation="softmax"),
        ],
        name="gesture",
    )


def train_model(data: dict[str, np.ndarray], epochs: int, seed: int) -> keras.Model:
    """Adam with a cosine-decayed learning rate, sparse categorical cross-entropy."""
    return train_classifier(build_model, data, epochs, seed)


EXAMPLE = Example(
    name="gesture",
    task="classification",
    description="5 wrist gestures from 3-axis accelerometer windows (128 @ 100 Hz); 1-D CNN",
    input_shape=(WINDOW, 3),
    class_names=CLASS_NAMES,
    epochs=30,
    make_data=make_data,
    train_model=train_model,
    input_units="g",
)
