"""Port auto-detection by the board's USB VID/PID (the USB bus is faked: no board here)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgekit.boards import load_board
from edgekit.errors import DeviceError, UsageError
from edgekit.hil.ports import find_port


def _port(device: str, vid: int | None, pid: int | None, serial: str = "0001") -> SimpleNamespace:
    return SimpleNamespace(device=device, vid=vid, pid=pid, serial_number=serial)


@pytest.fixture()
def comports(monkeypatch):
    ports: list = []
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: list(ports))
    return ports


def test_finds_the_stlink_vcp(comports) -> None:
    comports += [_port("/dev/ttyS0", None, None), _port("/dev/ttyUSB0", 0x10C4, 0xEA60),
                 _port("/dev/ttyACM0", 0x0483, 0x374B)]
    assert find_port(load_board("nucleo-f446re")) == "/dev/ttyACM0"
    assert find_port(load_board("esp32-devkitc")) == "/dev/ttyUSB0"


def test_no_board_names_what_was_seen(comports) -> None:
    comports.append(_port("/dev/ttyUSB0", 0x10C4, 0xEA60))
    with pytest.raises(DeviceError, match=r"no nucleo-f446re found: no serial port with USB id 0483:374b "
                                          r"\(ports: /dev/ttyUSB0 \(10c4:ea60\)\)"):
        find_port(load_board("nucleo-f446re"))


def test_two_boards_need_a_choice(comports) -> None:
    comports += [_port("/dev/ttyACM0", 0x0483, 0x374B, "A"), _port("/dev/ttyACM1", 0x0483, 0x374B, "B")]
    with pytest.raises(DeviceError, match="several ports .* /dev/ttyACM0 \\(serial A\\), /dev/ttyACM1"):
        find_port(load_board("nucleo-f446re"))


def test_virtual_board_has_no_usb_ids(comports) -> None:
    with pytest.raises(UsageError, match="names no USB VID/PID"):
        find_port(load_board("qemu-netduinoplus2"))


def test_the_pytest_plugin_names_its_own_option(comports) -> None:
    """In pytest the port is given with --edgekit-port, so that is the advice (not the CLI's --port)."""
    with pytest.raises(DeviceError) as exc:
        find_port(load_board("nucleo-f446re"), option="--edgekit-port")
    assert exc.value.hint == "plug the board in, or pass --edgekit-port"
    comports += [_port("/dev/ttyACM0", 0x0483, 0x374B, "A"), _port("/dev/ttyACM1", 0x0483, 0x374B, "B")]
    with pytest.raises(DeviceError) as exc:
        find_port(load_board("nucleo-f446re"), option="--edgekit-port")
    assert exc.value.hint == "choose one with --edgekit-port"
