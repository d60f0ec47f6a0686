"""Models with a custom layer and a Lambda: refused in one line naming the class Keras could not
locate, and loaded through every command that reads Keras with --custom-objects (a file, or a
module), the converter's worker process included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_clean_error, import_keras, run_cli

pytestmark = pytest.mark.tf

LAYERS = '''
import keras


class PositionEmbedding(keras.layers.Layer):
    def __init__(self, length, **kwargs):
        super().__init__(**kwargs)
        self.length = length

    def build(self, shape):
        self.pos = self.add_weight(shape=(self.length, shape[-1]), initializer="random_normal")

    def call(self, x):
        return x + self.pos

    def get_config(self):
        return {**super().get_config(), "length": self.length}


def double(t):
    return t * 2.0
'''


@pytest.fixture(scope="module")
def custom_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(model.keras, data.npz, layers file); the model built from the file's classes."""
    import importlib.util
    import sys

    d = tmp_path_factory.mktemp("custom")
    (d / "my_layers.py").write_text(LAYERS)
    keras = import_keras()
    spec = importlib.util.spec_from_file_location("my_layers", d / "my_layers.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["my_layers"] = mod
    spec.loader.exec_module(mod)
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 4))
    x = keras.layers.Lambda(mod.double)(mod.PositionEmbedding(8)(inp))
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    keras.Model(inp, out).save(d / "model.keras")
    rng = np.random.default_rng(0)
    np.savez(d / "data.npz", x_train=rng.normal(size=(48, 8, 4)).astype(np.float32),
             x_test=rng.normal(size=(12, 8, 4)).astype(np.float32), y_test=rng.integers(0, 2, 12))
    return d / "model.keras", d / "data.npz", d / "my_layers.py"


def test_without_custom_objects_the_class_is_named(custom_model, tmp_path: Path) -> None:
    model, data, _ = custom_model
    assert_clean_error(run_cli("quantize", model, "--calib", data, "-o", tmp_path / "m.tflite"), 2,
                       "uses PositionEmbedding, which Keras could not locate", "--custom-objects")
    assert not (tmp_path / "m.tflite").exists()


def test_custom_objects_file_loads_it_everywhere(custom_model, tmp_path: Path) -> None:
    model, data, layers = custom_model
    out = tmp_path / "m.tflite"
    r = run_cli("quantize", model, "--calib", data, "-o", out, "--custom-objects", layers, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["float_value"] is not None and out.is_file()
    r = run_cli("evaluate", model, data, "--custom-objects", layers, "--json")
    assert r.returncode == 0, r.stderr
    # As a module name, found on PYTHONPATH.
    r = run_cli("evaluate", model, data, "--custom-objects", "my_layers", "--json",
                env={"PYTHONPATH": str(layers.parent)})
    assert r.returncode == 0, r.stderr


def test_a_broken_custom_objects_file_is_one_line(custom_model, tmp_path: Path) -> None:
    model, data, _ = custom_model
    bad = tmp_path / "bad.py"
    bad.write_text("raise ValueError('boom')\n")
    assert_clean_error(run_cli("evaluate", model, data, "--custom-objects", bad), 2,
                       "failed to import: ValueError: boom")
    assert_clean_error(run_cli("evaluate", model, data, "--custom-objects", tmp_path / "none.py"), 2,
                       "custom objects file not found")
