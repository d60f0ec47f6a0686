"""When the machine refuses a file (name too long, read-only file system, disk full), a command
ends in one line naming the path, exit 5, and leaves no half-written output; hil finds out
before it runs the board, not after."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_MODELS, assert_clean_error, run_cli

BOARD = "qemu-netduinoplus2"
SINE = FIXTURE_MODELS / "sine.tflite"


def test_a_file_name_too_long_is_exit_5(tmp_path: Path) -> None:
    out = tmp_path / ("x" * 300)
    assert_clean_error(run_cli("generate", SINE, "--board", BOARD, "-o", out), 5,
                       "File name too long", "use a shorter file or directory name")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """mount(options) -> a fresh 64 KiB tmpfs with those options, unmounted after the test."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size=64k,{options}", "tmpfs", str(point)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
        mounted.append(point)
        return point

    try:
        yield mount
    finally:
        for point in mounted:
            subprocess.run(["umount", "-l", str(point)], capture_output=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_read_only_and_full_disks_are_exit_5_with_nothing_left(tmpfs) -> None:
    ro = tmpfs("ro")
    assert_clean_error(run_cli("generate", SINE, "--board", BOARD, "-o", ro / "fw"), 5,
                       "Read-only file system", "write to a writable directory")
    full = tmpfs("rw")
    (full / "ballast").write_bytes(b"\0" * 60 * 1024)
    r = run_cli("generate", FIXTURE_MODELS / "ds_cnn_kws.tflite", "--board", BOARD, "-o", full / "fw")
    assert_clean_error(r, 5, "No space left on device", "free some space")
    assert sorted(p.name for p in full.iterdir()) == ["ballast"]   # no half-written project


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_the_report_directory_is_probed_before_a_board_session(tmpfs) -> None:
    """What hil calls before it starts the board: a full or read-only report directory fails
    first, naming the directory (a full disk names no file of its own)."""
    from edgekit.data import require_writable
    from edgekit.errors import FileSystemError

    full = tmpfs("rw")
    (full / "ballast").write_bytes(b"\0" * 62 * 1024)
    with pytest.raises(FileSystemError, match=f"cannot write {full}/rep: No space left"):
        require_writable(full / "rep")
    ro = tmpfs("ro")
    with pytest.raises(FileSystemError, match="Read-only file system"):
        require_writable(ro / "rep")
