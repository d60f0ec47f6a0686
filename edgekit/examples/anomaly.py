"""anomaly: predictive maintenance from vibration with a dense autoencoder.

A simulated rotating machine: an accelerometer on the bearing housing, 4,096 Hz, 1 s
records, a 4-pole induction motor on 50 Hz mains (1,500 rpm synchronous, 1.25-3.5 % slip
growing with load). Normal vibration: running-speed harmonics 1x..5x (1x strongest, ratios
varying), two structural resonances excited by broadband forces, a little 50 Hz pickup,
sensor noise; load and resonances vary from record to record. Faults (test split only),
from incipient to clear:

  imbalance      1x raised 1.4-3 times
  misalignment   2x raised to 0.4-1.2 times 1x, 3x raised
  bearing        outer-race defect: an impulse every 1/BPFO (BPFO = 3.585 x running speed,
                 a 6205 bearing) ringing a 1.2-1.8 kHz resonance, amplitude-modulated by
                 the shaft turn
  looseness      many harmonics of 1x (up to 10x) and half-harmonics (0.5x, 1.5x ...)

Features: Welch spectrum, log10 power in 64 bands on a warped frequency axis (uniform in
log(1 + f / 100 Hz): linear-ish below 100 Hz, logarithmic above, like mel), standardized per
band with the mean/std of the normal training records. Model: a 64-32-8-32-64 dense
autoencoder trained on normal records only. Score: mean squared reconstruction error;
metric: ROC AUC (faulty = 1).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from edgekit.examples._common import Example, fit_cosine_adam, rng

if TYPE_CHECKING:  # pragma: no cover
    import keras

FS = 4096.0  # Hz
N_SAMPLES = 4096  # 1 s record
N_FFT = 2048  # Welch segments of 0.5 s (2 Hz resolution), hop 0.25 s: 3 averaged spectra
HOP = 1024
N_BANDS = 64
F_BREAK = 100.0  # Hz: band edges are uniform in log(1 + f / F_BREAK)
N_TRAIN = 1200
N_TEST_NORMAL = 400
N_TEST_PER_FAULT = 100
N_CALIB = 300
FAULTS = ("imbalance", "misalignment", "bearing", "looseness")

_T = np.arange(N_SAMPLES) / FS
_FREQS = np.fft.rfftfreq(N_FFT, 1.0 / FS)


def _band_matrix() -> np.ndarray:
    """(n_bins, N_BANDS) averaging matrix from rfft power bins to warped-frequency bands."""
    top = math.log1p((FS / 2) / F_BREAK)
    edges = F_BREAK * np.expm1(np.linspace(math.log1p(5.0 / F_BREAK), top, N_BANDS + 1))
    m = np.zeros((len(_FREQS), N_BANDS))
    for b in range(N_BANDS):
        sel = (_FREQS >= edges[b]) & (_FREQS < edges[b + 1])
        if not sel.any():  # narrower than one bin: take the nearest bin
            sel = np.abs(_FREQS - 0.5 * (edges[b] + edges[b + 1])) == np.min(
                np.abs(_FREQS - 0.5 * (edges[b] + edges[b + 1]))
            )
        m[sel, b] = 1.0 / sel.sum()
    return m


_BANDS = _band_matrix()
_HANN = np.hanning(N_FFT)


def _resonance_noise(g: np.random.Generator, centers: list[float], q: float) -> np.ndarray:
    """White noise shaped by second-order resonances (built in the frequency domain)."""
    spec = np.fft.rfft(g.normal(size=N_SAMPLES))
    freqs = np.fft.rfftfreq(N_SAMPLES, 1.0 / FS)
    shape = np.zeros_like(freqs)
    for fc in centers:
        r = freqs / fc
        shape += 1.0 / np.sqrt((1 - r * r) ** 2 + (r / q) ** 2)
    return np.fft.irfft(spec * shape, N_SAMPLES)


def _signal(g: np.random.Generator, fault: str | None) -> np.ndarray:
    """One 1 s vibration record (in g) of the machine, normal or with `fault`."""
    t = _T
    load = g.uniform(0.5, 1.2)
    # 4-pole induction motor on 50 Hz mains: 1,500 rpm synchronous, slip grows with load
    f0 = 25.0 * (1.0 - 0.025 * load - g.uniform(0.0, 0.005))
    amps = load * np.array([1.0, g.uniform(0.15, 0.35), g.uniform(0.05, 0.15),
                            g.uniform(0.02, 0.06), g.uniform(0.01, 0.04)])
    half = np.zeros(6)  # amplitudes of 0.5x, 1.5x, ... 5.5x
    extra = np.zeros(0)
    if fault == "imbalance":
        amps[0] *= g.uniform(1.4, 3.0)
    elif fault == "misalignment":
        amps[1] = amps[0] * g.uniform(0.4, 1.2)
        amps[2] = amps[0] * g.uniform(0.1, 0.4)
    elif fault == "looseness":
        extra = load * g.uniform(0.02, 0.12, 5)  # 6x..10x
        amps[2:] = np.maximum(amps[2:], load * g.uniform(0.05, 0.2, 3))
        half = load * g.uniform(0.01, 0.1, 6)
    x = np.zeros(N_SAMPLES)
    for k, a in enumerate(np.concatenate([amps, extra]), start=1):
        x += a * np.sin(2 * math.pi * k * f0 * t + g.uniform(0, 2 * math.pi))
    for k, a in enumerate(half):
        if a:
            x += a * np.sin(2 * math.pi * (k + 0.5) * f0 * t + g.uniform(0, 2 * math.pi))
    # structure: two resonances excited by broadband forces, plus 50 Hz pickup and noise
    res = [g.uniform(280.0, 360.0), g.uniform(650.0, 800.0)]
    broadband = _resonance_noise(g, res, g.uniform(8.0, 15.0))
    x += g.uniform(0.004, 0.008) * broadband
    x += g.uniform(0.005, 0.02) * np.sin(2 * math.pi * 50.0 * t + g.uniform(0, 2 * math.pi))
    if fault == "bearing":
        bpfo = f0 * 3.585  # outer-race defect frequency of a 6205 bearing
        fr = g.uniform(1200.0, 1800.0)  # resonance the impacts ring
        tau = g.uniform(0.002, 0.005)
        amp = load * g.uniform(0.02, 0.3)
        impacts = np.arange(g.uniform(0, 1 / bpfo), t[-1], 1 / bpfo)
        impacts += g.normal(0.0, 0.01 / bpfo, len(impacts))  # slip jitter
        mod = 1.0 + g.uniform(0.3, 0.8) * np.cos(2 * math.pi * f0 * impacts)
        ring = int(8 * tau * FS)  # samples until the ringing has died out (e^-8)
        for ti, m in zip(impacts, mod):
            i0 = int(math.ceil(ti * FS))
            dt = t[i0 : i0 + ring] - ti
            x[i0 : i0 + ring] += amp * m * np.exp(-dt / tau) * np.sin(2 * math.pi * fr * dt)
    x += g.normal(0.0, g.uniform(0.01, 0.03), N_SAMPLES)
    return x


def _features(x: np.ndarray) -> np.ndarray:
    """log10 band power of the Welch (Hann, 50% overlap) spectrum, shape (N_BANDS,)."""
    segs = np.stack([x[i : i + N_FFT] for i in range(0, N_SAMPLES - N_FFT + 1, HOP)])
    p = (np.abs(np.fft.rfft(segs * _HANN, axis=1)) ** 2).mean(axis=0) / N_FFT
    return np.log10(p @ _BANDS + 1e-9)


def _windows(g: np.random.Generator, faults: list[str | None]) -> np.ndarray:
    return np.stack([_features(_signal(g, f)) for f in faults])


def make_data(seed: int) -> dict[str, np.ndarray]:
    """x_train: 1,200 normal windows; x_test: 400 normal + 100 of each fault (y_test 1)."""
    g = rng(seed, 3)
    x_train = _windows(g, [None] * N_TRAIN)
    test_kinds: list[str | None] = [None] * N_TEST_NORMAL
    for f in FAULTS:
        test_kinds += [f] * N_TEST_PER_FAULT
    order = g.permutation(len(test_kinds))
    test_kinds = [test_kinds[i] for i in order]
    x_test = _windows(g, test_kinds)
    y_test = np.array([k is not None for k in test_kinds], dtype=np.int64)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    x_train = ((x_train - mean) / std).astype(np.float32)
    x_test = ((x_test - mean) / std).astype(np.float32)
    calib = g.choice(N_TRAIN, N_CALIB, replace=False)
    return {
        "x_train": x_train,
        "y_train": np.zeros(N_TRAIN, dtype=np.int64),
        "x_test": x_test,
        "y_test": y_test,
        "x_calib": x_train[calib],
    }


def build_model() -> keras.Model:
    """The untrained dense autoencoder: N_BANDS -> 32 -> 8 -> 32 -> N_BANDS, ReLU hidden layers."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((N_BANDS,)),
            layers.Dense(32, activation="relu"),
            layers.Dense(8, activation="relu"),
            layers.Dense(32, activation="relu"),
            layers.Dense(N_BANDS),
        ],
        name="anomaly",
    )


def train_model(data: dict[str, np.ndarray], epochs: int, seed: int) -> keras.Model:
    """Autoencoder on normal windows only: MSE(x, x), Adam with cosine decay."""
    import keras

    keras.utils.set_random_seed(seed)
    return fit_cosine_adam(build_model(), data["x_train"], data["x_train"], epochs=epochs, loss="mse",
                           learning_rate=0.003)


EXAMPLE = Example(
    name="anomaly",
    task="anomaly",
    description="vibration of a rotating machine, normal vs faulty; dense autoencoder, ROC AUC",
    input_shape=(N_BANDS,),
    class_names=None,
    epochs=60,
    make_data=make_data,
    train_model=train_model,
)
