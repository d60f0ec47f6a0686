"""The int8 conversion runs in a child process: a converter crash, error or hang is one clean
error (exit 2), Ctrl-C is exit 130, and no temporary SavedModel is ever left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import ModelError
from tests.conftest import assert_clean_error

pytestmark = pytest.mark.tf


def test_converter_segfault_is_one_clean_line_and_leaves_no_temp_dir(cli, lstm_model, tmp_path: Path) -> None:
    model, data = lstm_model
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "lstm.tflite"
    r = cli("quantize", model, "--calib", data, "-o", out, env={"TMPDIR": str(tmpdir)})
    assert_clean_error(r, 2, "converter crashed (SIGSEGV)", str(model), "LSTM")
    assert list(tmpdir.iterdir()) == []
    assert not out.exists() and not out.with_suffix(".quant.json").exists()


def test_conversion_timeout_is_a_model_error_and_leaves_no_temp_dir(dense_model, tmp_path: Path,
                                                                    monkeypatch) -> None:
    from edgekit.model.quantize import convert_in_child

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    model, data = dense_model
    with pytest.raises(ModelError, match="did not finish within 0.5 s"):
        convert_in_child(model, np.load(data)["x_train"], where=str(model), timeout=0.5)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_conversion_exits_130_and_leaves_no_temp_dir(dense_model, tmp_path: Path) -> None:
    model, data = dense_model
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen([sys.executable, "-m", "edgekit.cli", "quantize", str(model), "--calib", str(data),
                             "-o", str(tmp_path / "m.tflite")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    # Wait for the child's working directory (the conversion has started), then interrupt.
    for _ in range(1200):
        if any(p.name.startswith("edgekit-quantize-") for p in tmpdir.iterdir()) or proc.poll() is not None:
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the conversion finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert list(tmpdir.iterdir()) == []
    assert not (tmp_path / "m.tflite").exists()


def test_child_conversion_is_bit_identical_to_in_process(cli, dense_model, tmp_path: Path) -> None:
    """`edgekit quantize` (conversion in a child) writes the bytes an in-process conversion
    gives, and leaves nothing in TMPDIR."""
    from edgekit.model.keras_io import load_keras_model
    from edgekit.model.quantize import convert_int8, quantize_model

    model_path, data = dense_model
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "m.tflite"
    r = cli("quantize", model_path, "--calib", data, "-o", out, env={"TMPDIR": str(tmpdir)})
    assert r.returncode == 0, r.stderr
    assert list(tmpdir.iterdir()) == []
    x = np.load(data)["x_train"]  # 40 samples: all of them calibrate
    in_process = convert_int8(load_keras_model(model_path), x, where="dense")
    assert out.read_bytes() == in_process
    from_live, _ = quantize_model(load_keras_model(model_path), x, samples=len(x))
    assert from_live == in_process


def test_corrupt_keras_file_is_named_not_found_never(cli, tmp_path: Path, dense_model) -> None:
    _, data = dense_model
    for name, content in (("garbage.keras", os.urandom(300)), ("text.keras", b"hello"),
                          ("truncated.keras", dense_model[0].read_bytes()[:500]), ("garbage.h5", b"nope")):
        bad = tmp_path / name
        bad.write_bytes(content)
        for args in (("quantize", bad, "--calib", data, "-o", tmp_path / "o.tflite"), ("evaluate", bad, data)):
            r = cli(*args)
            assert_clean_error(r, 2, f"{bad} is not a valid Keras model")
            assert "not found" not in r.stderr.lower()


def test_tflm_refusal_after_conversion_names_no_file_it_did_not_write(dense_model, tmp_path: Path,
                                                                        monkeypatch) -> None:
    """A model that converts but TFLM cannot prepare: the message must not send the user to
    inspect the .tflite, which quantize does not write in that case."""
    from edgekit.model import reference
    from edgekit.model.quant_report import quantize_file

    def refuse(model: bytes, arena: int, where: str, **_: object) -> None:
        raise ModelError(f"TFLM cannot prepare {where}: Didn't find op for builtin opcode 'TOPK_V2'")

    monkeypatch.setattr(reference, "_tflm_preflight", refuse)
    model, data = dense_model
    out = tmp_path / "m.tflite"
    with pytest.raises(ModelError) as info:
        quantize_file(model, data, out)
    message = str(info.value)
    assert f"{model} converted to int8, but TFLM cannot prepare" in message and "TOPK_V2" in message
    assert "nothing was written" in message and "inspect" not in message
    assert not out.exists() and not out.with_suffix(".quant.json").exists()
