"""The pytest11 plugin: `hardware` tests skip without a board, run against one through `dut`."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import pytest

@pytest.mark.hardware
def test_board_answers(dut):
    assert dut.device.input_bytes > 0
    out, cycles = dut.infer(bytes(dut.device.input_bytes))
    assert len(out.reshape(-1)) == dut.device.output_bytes and cycles >= 0

def test_without_board():
    pass
"""


def test_hardware_tests_skip_without_a_port(pytester: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.delenv("EDGEKIT_HIL", raising=False)
    monkeypatch.delenv("EDGEKIT_PORT", raising=False)
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*needs a board: pass --edgekit-port or set EDGEKIT_HIL=1*"])


def test_forced_on_without_a_board_fails_instead_of_skipping(pytester: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.setenv("EDGEKIT_HIL", "1")
    monkeypatch.delenv("EDGEKIT_PORT", raising=False)
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest("--edgekit-board", "nucleo-f446re")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*no nucleo-f446re found: no serial port with USB id 0483:374b*"])


def test_dut_talks_to_a_device(pytester: pytest.Pytester, device, tmp_path, monkeypatch) -> None:
    # A board file for the host-port firmware.
    from tests.test_boards import GOOD

    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "host.toml").write_text(GOOD.replace('id = "qemu-netduinoplus2"', 'id = "host"'))
    monkeypatch.setenv("EDGEKIT_BOARDS_DIR", str(boards))
    pytester.makepyfile(USER_TESTS)
    # "--opt=value": a separate value that looks like a path would steer pytest's rootdir.
    result = pytester.runpytest("--edgekit-board=host", f"--edgekit-port={device.path}")
    result.assert_outcomes(passed=2)
