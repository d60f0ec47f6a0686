"""What quantize says about inputs that are not a model it can use: a SavedModel directory, a
plain directory, and a Keras model without operators (no circular advice)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_clean_error, import_keras, run_cli


@pytest.fixture
def calib(tmp_path: Path) -> Path:
    path = tmp_path / "calib.npz"
    np.savez(path, x_train=np.random.default_rng(0).random((16, 4)).astype(np.float32))
    return path


def test_a_saved_model_directory_is_named_as_one(tmp_path: Path, calib: Path) -> None:
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"\x08\x01")
    assert_clean_error(run_cli("quantize", saved, "--calib", calib), 2,
                       "is a TensorFlow SavedModel directory", "model.save('model.keras')")
    assert_clean_error(run_cli("quantize", tmp_path, "--calib", calib), 2, "is a directory, not a Keras model file")


@pytest.mark.tf
def test_a_model_without_operators_is_refused_without_circular_advice(tmp_path: Path, calib: Path) -> None:
    keras = import_keras()
    inp = keras.Input((4,))
    keras.Model(inp, keras.layers.Identity()(inp)).save(tmp_path / "id.keras")
    r = run_cli("quantize", tmp_path / "id.keras", "--calib", calib)
    assert_clean_error(r, 2, "converts to a model without operators")
    assert "edgekit quantize" not in r.stderr
