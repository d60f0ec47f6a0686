"""An op TFLM has no kernel for (GELU): quantize still writes the integer model and says that
LiteRT's kernel judged that op (TFLM the others); inspect and `generate --runtime tflm` name it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_clean_error, import_keras, run_cli

pytestmark = pytest.mark.tf
BOARD = "qemu-netduinoplus2"


@pytest.fixture(scope="module")
def gelu(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    keras = import_keras()
    keras.utils.set_random_seed(0)
    inp = keras.Input((10,))
    out = keras.layers.Dense(3)(keras.layers.Dense(8, activation="gelu")(inp))
    d = tmp_path_factory.mktemp("gelu")
    keras.Model(inp, out).save(d / "gelu.keras")
    rng = np.random.default_rng(0)
    np.savez(d / "data.npz", x_train=rng.normal(size=(32, 10)).astype(np.float32),
             x_test=rng.normal(size=(8, 10)).astype(np.float32), y_test=rng.normal(size=(8, 3)).astype(np.float32))
    return d / "gelu.keras", d / "data.npz"


def test_quantize_judges_gelu_by_litert_and_says_so(gelu, tmp_path: Path) -> None:
    model, data = gelu
    out = tmp_path / "gelu.tflite"
    r = run_cli("quantize", model, "--calib", data, "-o", out, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert "GELU" in report["ops"]
    assert report["int8_backend"] == "tflm: GELU by LiteRT's reference kernel (TFLM has none)"
    assert report["int8_value"] is not None and "XNNPACK" not in r.stderr

    r = run_cli("inspect", out, "--board", BOARD)
    assert r.returncode == 0, r.stderr
    assert "TFLM arena not measured: TFLM has no kernel for GELU" in r.stdout
    assert_clean_error(run_cli("generate", out, "--board", BOARD, "--runtime", "tflm", "-o", tmp_path / "fw"),
                       2, "tflm has no kernel for GELU")
