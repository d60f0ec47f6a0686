"""The virtual board (real QEMU, real generated firmware) streams its vibration sensor up to
the board file's 4000 Hz with microsecond timestamps, and refuses above it like the host."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.boards import load_board
from edgekit.errors import DeviceError
from edgekit.hil.session import Session
from edgekit.hil.stream import record_stream
from edgekit.project.manifest import open_project
from edgekit.sim.qemu import QemuBoard

pytestmark = [pytest.mark.toolchain, pytest.mark.qemu]

BOARD = "qemu-netduinoplus2"


@pytest.fixture(scope="module")
def built(tmp_path_factory, built_sine) -> Path:
    return built_sine(tmp_path_factory.mktemp("vib") / "fw")


def test_ek_board_h_carries_each_sensors_limit(built: Path) -> None:
    header = next(built.rglob("ek_board.h")).read_text()
    assert "#define EK_SENSOR_ACCEL_MAX_RATE_HZ  1000u" in header
    assert "#define EK_SENSOR_VIBRATION_MAX_RATE_HZ  4000u" in header


def test_vibration_at_4000_hz_has_distinct_increasing_timestamps(built: Path, tmp_path: Path) -> None:
    board = load_board(BOARD)
    out = tmp_path / "vib.npz"
    r = record_stream(board, "vibration", 4000, 1.0, out, project=open_project(built, board=board))
    data = np.load(out)
    t = data["t_us"].astype(np.int64)
    assert len(t) == r.received and len(t) > 50
    assert np.all(np.diff(t) > 0)  # microseconds: never two samples with one time stamp
    assert np.array_equal(data["seq"], np.sort(data["seq"])) and len(np.unique(data["seq"])) == len(t)


def test_the_firmware_refuses_above_the_board_files_limit(built: Path) -> None:
    board = load_board(BOARD)
    with QemuBoard.for_board(board, open_project(built).built_elf()) as vb, Session(vb.pty) as s:
        with pytest.raises(DeviceError, match=r"BAD_ARG.*detail 4000"):
            list(s.stream(board.sensors.index(board.sensor("vibration")), 4001, 0.2))
        with pytest.raises(DeviceError, match=r"BAD_ARG.*detail 1000"):
            list(s.stream(board.sensors.index(board.sensor("accel")), 1001, 0.2))
