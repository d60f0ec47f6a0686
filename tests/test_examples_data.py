"""The examples' data generators (fast: no training, no TensorFlow)."""

from __future__ import annotations

import subprocess
import sys
from functools import cache

import numpy as np
import pytest

from edgekit.errors import UsageError
from edgekit.examples import EXAMPLES, Example, get_example

NAMES = ("sine", "gesture", "anomaly", "digits")
KEYS = {"x_train", "y_train", "x_test", "y_test", "x_calib"}
TASKS = {"sine": "regression", "gesture": "classification", "anomaly": "anomaly",
         "digits": "classification", "text": "next-word",
         "story": "next-word"}  # token data: tests/test_text_example.py, tests/test_story_example.py


@cache
def _data(name: str, seed: int) -> dict[str, np.ndarray]:
    return get_example(name).make_data(seed)


def test_registry_holds_the_examples() -> None:
    assert set(EXAMPLES) == set(TASKS)
    for name, ex in EXAMPLES.items():
        assert isinstance(ex, Example) and ex.name == name
        assert ex.task == TASKS[name]
        assert ex.description and "\n" not in ex.description
        assert ex.epochs > 0
        assert all(isinstance(d, int) and d > 0 for d in ex.input_shape)
        assert (ex.class_names is not None) == (ex.task == "classification")
        assert get_example(name) is ex


def test_unknown_example_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        get_example("toaster")
    assert info.value.message == "unknown example 'toaster'"
    assert info.value.exit_code == 2
    assert all(name in info.value.hint for name in NAMES)


def test_importing_examples_does_not_import_tensorflow() -> None:
    code = ("import sys, edgekit.examples as e; e.get_example('gesture').make_data; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", NAMES)
def test_data_keys_dtypes_and_shapes(name: str) -> None:
    ex = get_example(name)
    d = _data(name, 0)
    assert set(d) == KEYS
    for key in ("x_train", "x_test", "x_calib"):
        assert d[key].dtype == np.float32, key
        assert d[key].shape[1:] == ex.input_shape, key
    n_train, n_test = len(d["x_train"]), len(d["x_test"])
    assert len(d["y_train"]) == n_train and len(d["y_test"]) == n_test
    assert 100 <= n_test and n_test < n_train <= 5000
    assert 100 <= len(d["x_calib"]) <= 1000
    for key, arr in d.items():
        assert np.all(np.isfinite(arr)), key
    # data.npz must stay small
    assert sum(a.nbytes for a in d.values()) < 4_000_000
    if ex.task == "regression":
        assert d["y_train"].dtype == np.float32 and d["y_train"].shape == (n_train, 1)
        assert d["y_test"].dtype == np.float32 and d["y_test"].shape == (n_test, 1)
    else:
        assert d["y_train"].dtype == np.int64 and d["y_train"].shape == (n_train,)
        assert d["y_test"].dtype == np.int64 and d["y_test"].shape == (n_test,)


@pytest.mark.parametrize("name", NAMES)
def test_data_is_deterministic_by_seed(name: str) -> None:
    a = _data(name, 0)
    b = get_example(name).make_data(0)  # a fresh call, not the cached one
    assert all(np.array_equal(a[k], b[k]) for k in KEYS)
    c = _data(name, 1)
    assert not np.array_equal(a["x_train"], c["x_train"])
    assert not np.array_equal(a["x_test"], c["x_test"])


@pytest.mark.parametrize("name", [n for n in NAMES if TASKS[n] == "classification"])
def test_classes_are_balanced(name: str) -> None:
    ex = get_example(name)
    d = _data(name, 0)
    n_classes = len(ex.class_names)
    assert n_classes >= 4
    for key in ("y_train", "y_test"):
        counts = np.bincount(d[key], minlength=n_classes)
        assert len(counts) == n_classes, f"{key} has labels outside the class names"
        assert counts.min() >= 0.8 * counts.mean(), (key, counts)
        assert counts.max() <= 1.2 * counts.mean(), (key, counts)


def test_gesture_windows_are_in_g() -> None:
    d = _data("gesture", 0)
    assert get_example("gesture").input_shape == (128, 3)
    # at rest the accelerometer reads about 1 g of gravity
    idle = d["x_train"][d["y_train"] == 0]
    norms = np.linalg.norm(idle, axis=2).mean(axis=1)
    assert np.all(np.abs(norms - 1.0) < 0.2)
    assert np.abs(d["x_train"]).max() < 16.0


def test_sine_targets() -> None:
    d = _data("sine", 0)
    for key in ("x_train", "x_test", "x_calib"):
        assert d[key].min() >= 0.0 and d[key].max() < 2 * np.pi
    # training targets are noisy, test targets are the clean sine
    assert np.allclose(d["y_test"], np.sin(d["x_test"]), atol=1e-6)
    residual = d["y_train"] - np.sin(d["x_train"])
    assert 0.05 < residual.std() < 0.2


def test_anomaly_trains_on_normal_data_only() -> None:
    ex = get_example("anomaly")
    d = _data("anomaly", 0)
    assert np.all(d["y_train"] == 0)
    assert set(np.unique(d["y_test"])) == {0, 1}
    assert 0.2 <= d["y_test"].mean() <= 0.8
    # features are standardized on the normal training windows
    assert np.allclose(d["x_train"].mean(axis=0), 0.0, atol=1e-3)
    assert np.allclose(d["x_train"].std(axis=0), 1.0, atol=1e-2)
    # faulty windows are, on average, further from normal than normal test windows
    dist = (d["x_test"] ** 2).mean(axis=1)
    assert dist[d["y_test"] == 1].mean() > dist[d["y_test"] == 0].mean()
    assert ex.input_shape == d["x_train"].shape[1:]


def test_digits_are_the_bundled_scikit_learn_digits() -> None:
    d = _data("digits", 0)
    assert len(d["x_train"]) + len(d["x_test"]) == 1797
    for key in ("x_train", "x_test"):
        assert d[key].min() >= 0.0 and d[key].max() <= 1.0
