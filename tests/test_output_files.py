"""What edgekit leaves on disk: failed commands leave no output directories behind, and every
artifact gets the mode the umask gives (files 0666 & ~umask, directories 0777 & ~umask)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_clean_error
from tests.test_boards import GOOD

BOARD = "qemu-netduinoplus2"


# --------------------------------------------------------------------------- failed commands
@pytest.fixture
def tiny_boards(tmp_path: Path) -> Path:
    """A boards dir with 'tiny-board': the virtual board with 8 KiB of RAM."""
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "tiny-board.toml").write_text(
        GOOD.replace('id = "qemu-netduinoplus2"', 'id = "tiny-board"').replace("size = 0x3_0000", "size = 0x2000"))
    return boards


def test_deploy_that_fails_leaves_no_directories(cli, benchmark_model, tmp_path: Path, tiny_boards: Path) -> None:
    out = tmp_path / "out" / "deep"
    assert_clean_error(cli("deploy", tmp_path / "nope.tflite", "-o", out), 2, "neither an example")
    assert not (tmp_path / "out").exists()
    assert_clean_error(cli("deploy", benchmark_model("sine"), "--board", "tiny-board", "--boards-dir", tiny_boards,
                           "-o", out), 2, "does not fit tiny-board")
    assert not (tmp_path / "out").exists()
    assert_clean_error(cli("deploy", "sine", "--board", "nope", "-o", out), 2, "unknown board 'nope'")
    assert not (tmp_path / "out").exists()


def test_generate_quantize_hil_stream_that_fail_leave_no_directories(cli, benchmark_model, tmp_path: Path,
                                                                      tiny_boards: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    sine = benchmark_model("sine")
    assert_clean_error(cli("generate", sine, "--board", "tiny-board", "--boards-dir", tiny_boards,
                           "-o", tmp_path / "g" / "fw"), 2, "does not fit")
    assert_clean_error(cli("generate", sine, "--board", "nope", "-o", tmp_path / "g" / "fw"), 2, "unknown board")
    assert_clean_error(cli("quantize", tmp_path / "m.keras", "--calib", bad, "-o", tmp_path / "q" / "m.tflite"), 2)
    project = tmp_path / "fw"
    assert cli("generate", sine, "--board", BOARD, "-o", project).returncode == 0
    assert_clean_error(cli("hil", project, "--data", bad, "--report", tmp_path / "r" / "hil"), 2, str(bad))
    assert_clean_error(cli("stream", "--board", BOARD, "--port", "/dev/ttyNOPE0", "--sensor", "accel", "--rate",
                           "100", "--seconds", "0.2", "-o", tmp_path / "s" / "x.csv"), 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz", "boards", "fw"]


def test_a_failed_project_write_removes_the_directories_it_made(tmp_path: Path) -> None:
    from edgekit.project.manifest import Manifest, write_project

    manifest = Manifest(edgekit_version="0", model_sha256="0" * 64, board=BOARD, family="stm32",
                        runtime="edgekit-rt")
    with pytest.raises(OSError):   # "a" is a file, so "a/b" cannot be written
        write_project(tmp_path / "new" / "deep" / "fw", {"a": b"x", "a/b": b"y"}, manifest)
    assert list(tmp_path.iterdir()) == []


def test_output_dir_removes_only_what_the_block_created(tmp_path: Path) -> None:
    from edgekit.data import atomic_write_text, output_dir

    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "keep.txt").write_text("mine")
    with pytest.raises(RuntimeError), output_dir(tmp_path / "old" / "a" / "b", ("x.txt", "keep.txt")) as out:
        atomic_write_text(out / "x.txt", "new")
        raise RuntimeError
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == ["keep.txt"]
    with output_dir(tmp_path / "new", ("x.txt",)) as out:   # success: everything stays
        atomic_write_text(out / "x.txt", "new")
    assert (tmp_path / "new" / "x.txt").read_text() == "new"


@pytest.mark.tf
def test_train_that_fails_writing_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    import edgekit.model.train as train

    def broken(path: Path, text: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train, "write_text", broken)
    with pytest.raises(OSError):
        train.train_example("sine", tmp_path / "out" / "sine", epochs=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.tf
def test_train_that_fails_writing_keeps_the_earlier_run_whole(tmp_path: Path, monkeypatch) -> None:
    import edgekit.model.train as train

    out = tmp_path / "sine"
    train.train_example("sine", out, epochs=1, seed=1)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(path: Path, text: str) -> None:   # the last of the three writes fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train, "write_text", broken)
    with pytest.raises(OSError):
        train.train_example("sine", out, epochs=1, seed=2)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before   # no temp files, nothing replaced


@pytest.mark.tf
def test_quantize_that_fails_writing_its_report_keeps_the_earlier_model(tmp_path: Path, monkeypatch) -> None:
    import edgekit.model.train as train
    from edgekit.model.quant_report import QuantizationReport, quantize_file

    out = tmp_path / "sine"
    train.train_example("sine", out, epochs=1, seed=1)
    quantize_file(out / "model.keras", out / "data.npz", samples=20)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(self: QuantizationReport) -> dict:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(QuantizationReport, "to_dict", broken)
    with pytest.raises(OSError):
        quantize_file(out / "model.keras", out / "data.npz", samples=30)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before   # model and report still agree


# --------------------------------------------------------------------------- modes and the umask
@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _assert_modes(root: Path, mask: int) -> None:
    for path in [root, *root.rglob("*")]:
        want = (0o777 if path.is_dir() else 0o666) & ~mask
        assert _mode(path) == want, (path, oct(_mode(path)), oct(want))


def test_atomic_files_follow_the_umask(umask: int, tmp_path: Path, monkeypatch) -> None:
    from edgekit.data import atomic_path, atomic_write_text, current_umask, save_dataset

    assert current_umask() == umask
    atomic_write_text(tmp_path / "a" / "t.txt", "x")
    save_dataset(tmp_path / "a" / "d.npz", {"x": np.zeros((2, 1), np.float32)})
    with atomic_path(tmp_path / "a" / "m.keras", suffix=".keras") as tmp:
        tmp.write_bytes(b"model")
    _assert_modes(tmp_path / "a", umask)

    from edgekit.model import zoo  # the model cache goes through the same writer

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(zoo, "build_tflite", lambda name, seed: b"tflite")
    assert _mode(zoo.model_path("sine")) == 0o666 & ~umask


def test_reports_follow_the_umask(umask: int, tmp_path: Path) -> None:
    from edgekit.hil.report import write_report
    from tests.hil.test_report import _report

    paths = write_report(_report(), tmp_path / "r", cycles=[100] * 20, junit=tmp_path / "r" / "junit.xml")
    assert len(paths) >= 4
    _assert_modes(tmp_path / "r", umask)


def test_generated_projects_follow_the_umask(umask: int, cli, benchmark_model, tmp_path: Path) -> None:
    project = tmp_path / "fw"
    r = cli("generate", benchmark_model("sine"), "--board", BOARD, "-o", project)   # inherits the umask
    assert r.returncode == 0, r.stderr
    _assert_modes(project, umask)
    r = cli("generate", benchmark_model("sine"), "--board", BOARD, "-o", project, "--runtime", "tflm")
    assert r.returncode == 0, r.stderr
    _assert_modes(project, umask)
