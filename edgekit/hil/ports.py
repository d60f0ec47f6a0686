"""Find a board's serial port from the USB VID/PID its board file names."""

from __future__ import annotations

from edgekit.boards import Board
from edgekit.errors import DeviceError, UsageError


def find_port(board: Board, *, option: str = "--port") -> str:
    """The one serial port whose USB ids match the board's probe; clear errors for none or
    several, naming `option` as the way to give the port (the pytest plugin's is --edgekit-port)."""
    from serial.tools import list_ports

    ids = board.usb_ids
    if ids is None:
        raise UsageError(f"board '{board.id}' names no USB VID/PID to find its port by",
                         hint=f"pass {option}")
    ports = list(list_ports.comports())
    matches = [p for p in ports if (p.vid, p.pid) == ids]
    wanted = f"{ids[0]:04x}:{ids[1]:04x}"
    if not matches:
        seen = ", ".join(f"{p.device} ({p.vid:04x}:{p.pid:04x})" if p.vid is not None else p.device
                         for p in ports) or "none"
        raise DeviceError(f"no {board.id} found: no serial port with USB id {wanted} (ports: {seen})",
                          hint=f"plug the board in, or pass {option}")
    if len(matches) > 1:
        listed = ", ".join(f"{p.device} (serial {p.serial_number})" for p in matches)
        raise DeviceError(f"several ports with USB id {wanted}: {listed}", hint=f"choose one with {option}")
    return matches[0].device
