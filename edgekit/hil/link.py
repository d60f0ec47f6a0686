"""Byte link to a board: a pyserial port opened by URL, cut into protocol frames.

Any URL ``serial.serial_for_url`` accepts works: ``/dev/ttyACM0``, ``COM3``, a pty path
(the virtual board), ``socket://host:port``, ``rfc2217://host:port``, ``loop://``.
Every read is bounded by a deadline; every failure becomes an
:class:`edgekit.errors.DeviceError` with a one-line message.
"""

from __future__ import annotations

import errno
import os
import time

import serial

from edgekit.errors import DeviceError
from edgekit.hil.protocol import Frame, FrameSplitter

try:  # a pty whose other end closed fails tcdrain with termios.error, not OSError
    import termios

    _PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, termios.error)
except ImportError:  # Windows
    _PORT_ERRORS = (serial.SerialException, OSError)

DEFAULT_BAUD = 115200
# pyserial's read timeout, set once at open: the deadline loop, not pyserial, decides when to give
# up, at most one slice late. It is never assigned again: that reconfigures the port (a tcsetattr on
# a tty; on an RFC2217 port a renegotiation of every setting with a 50 ms sleep, per read).
_READ_SLICE_S = 0.02


class Link:
    """An open port plus a frame splitter. Use :func:`open_link` to create one."""

    def __init__(self, port: serial.SerialBase, url: str) -> None:
        self.port = port
        self.url = url
        self.splitter = FrameSplitter()
        self._frames: list[Frame] = []
        self.bytes_in = 0
        self.bytes_out = 0

    # -- writing --------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send bytes; raises DeviceError if the port is gone or will not take them."""
        try:
            self.port.write(data)
            self.port.flush()
        except serial.SerialTimeoutException:
            raise DeviceError(
                f"writing to {self.url} timed out: the device does not read its UART",
                hint="reset the board, or check the flow-control settings of the port",
            ) from None
        except _PORT_ERRORS as e:
            raise self._lost(e) from None
        self.bytes_out += len(data)

    # -- reading --------------------------------------------------------------------

    def read_frame(self, deadline: float) -> Frame | None:
        """Next good frame, or None once ``time.monotonic()`` passes ``deadline``."""
        while not self._frames:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            data = self._read_some()
            if data:
                self._frames.extend(self.splitter.feed(data))
        return self._frames.pop(0)

    def _read_some(self) -> bytes:
        try:
            waiting = self.port.in_waiting
            data = self.port.read(max(1, waiting))
        except _PORT_ERRORS as e:
            raise self._lost(e) from None
        self.bytes_in += len(data)
        return bytes(data)

    def discard_input(self) -> None:
        """Drop bytes already received (stale replies of an earlier session)."""
        try:
            self.port.reset_input_buffer()
        except _PORT_ERRORS as e:
            raise self._lost(e) from None
        self._frames.clear()
        self.splitter = FrameSplitter()

    def close(self) -> None:
        """Close the port; never raises."""
        try:
            self.port.close()
        except Exception:  # closing a dead port may fail in many ways; nothing to do
            pass

    def _lost(self, e: BaseException) -> DeviceError:
        return DeviceError(
            f"link to {self.url} lost: {_short(e)}",
            hint="the board was reset, unplugged or its emulator exited; reconnect and retry",
        )


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:160]


def open_link(url: str, *, baudrate: int = DEFAULT_BAUD, write_timeout: float = 2.0) -> Link:
    """Open ``url`` with pyserial; raise DeviceError (one line) when that is impossible."""
    if not url:
        raise DeviceError("no serial port given", hint="pass --port /dev/ttyACM0 or a socket:// URL")
    if "://" not in url and not url.upper().startswith("COM") and not os.path.exists(url):
        raise DeviceError(
            f"no such serial port: {url}",
            hint="check the cable and the port name with `python -m serial.tools.list_ports`, "
                 "or start the virtual board",
        )
    # pyserial's RFC2217 client (a labgrid farm's ports) refuses write_timeout; its writes are socket sends.
    timeouts = {"timeout": _READ_SLICE_S} | ({} if url.startswith("rfc2217://") else {"write_timeout": write_timeout})
    try:
        port = serial.serial_for_url(url, baudrate=baudrate, **timeouts)
    except (serial.SerialException, OSError, ValueError) as e:
        msg = _short(e)
        for prefix in (f"Could not open port {url}: ", f"could not open port {url}: "):
            msg = msg.replace(prefix, "")  # pyserial repeats the URL we already name
        err = getattr(e, "errno", None)
        if err in (errno.EBUSY, errno.EAGAIN) or "busy" in msg.lower() or "lock" in msg.lower():
            hint = "another program (a serial monitor?) holds the port; close it"
        elif err == errno.EACCES or "permission" in msg.lower():
            hint = "add yourself to the dialout group or fix the device permissions"
        elif "refused" in msg.lower():
            hint = "nothing listens at that address; start the device or proxy first"
        else:
            hint = "check the port name or URL"
        raise DeviceError(f"cannot open serial port {url}: {msg}", hint=hint) from None
    return Link(port, url)
