"""The synthetic sensors (firmware_templates/common/ek_synth.c), compiled for the host under
ASan/UBSan: the signals the virtual board and the host test port both stream, from the same
code on both."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.firmware_sources import COMMON, HOST, STM32_SRC, build_sanitized

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "synth"
Run = Callable[..., list[list[int]]]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Run:
    exe = build_sanitized(tmp_path_factory.mktemp("synth") / "synth", [COMMON / "ek_synth.c", FIXTURE / "main.c"],
                          [COMMON])

    def run(*args: object) -> list[list[int]]:
        out = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, check=True,
                             timeout=60).stdout
        return [[int(v) for v in line.split()] for line in out.splitlines()]

    return run


def test_isin_is_within_0_2_percent(synth: Run) -> None:
    got = np.array([row[0] for row in synth("isin")])
    want = 32767 * np.sin(2 * math.pi * np.arange(0, 65536, 256) / 65536)
    assert np.max(np.abs(got - want)) <= 0.002 * 32767


def test_gestures_rest_on_gravity_then_move(synth: Run) -> None:
    # 4 s at 1 kHz: two gesture cycles of 2 s, a gesture in the first 0.6 s of each.
    xyz = np.array(synth(0, 0, 1000, 4000))
    assert xyz.shape == (4000, 3)
    assert np.abs(xyz).max() <= 2500
    rest = xyz[700:1900]                                  # between the gestures
    assert np.abs(rest[:, :2]).max() <= 20 and np.abs(rest[:, 2] - 1000).max() <= 20
    wave, circle = xyz[:600], xyz[2000:2600]
    assert np.abs(wave[:, 0]).max() > 500 and np.abs(wave[:, 1]).max() <= 20     # x swings
    assert np.abs(circle[:, 0]).max() > 300 and np.abs(circle[:, 1]).max() > 300  # x and y


def test_vibration_has_its_50_hz_line_and_stays_in_range(synth: Run) -> None:
    v = np.array(synth(1, 0, 125, 8000))[:, 0]           # 1 s at 8 kHz
    assert np.abs(v).max() <= 600
    spectrum = np.abs(np.fft.rfft(v))
    assert int(np.argmax(spectrum[1:])) + 1 == 50         # 1 Hz bins: the 50 Hz machine


def test_same_signal_from_boot_every_time(synth: Run) -> None:
    assert synth(0, 123, 997, 500) == synth(0, 123, 997, 500)


def test_too_small_a_buffer_is_the_buffer_error(synth: Run) -> None:
    assert synth("small") == [[-3, -3, 1]]               # EK_SENSOR_ERR_BUFFER (ek_port.h)


def test_host_and_virtual_board_ports_use_this_code() -> None:
    host = (HOST / "ek_port_host.c").read_text()
    assert "ek_synth_read(&synth, EK_SYNTH_GESTURES" in host and "ek_synth_read(&synth, EK_SYNTH_VIBRATION" in host
    assert "sin(" not in host.replace("ek_synth", "")    # no signal of its own
    port = (STM32_SRC / "ek_port_stm32.c.j2").read_text()
    assert "ek_synth_read(&ek_synth, " in port
