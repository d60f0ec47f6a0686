"""A port where the device prints text (another firmware, a bootloader banner) is named as
such: the first printable line is quoted and the user is told to flash the project."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from edgekit.errors import DeviceError
from edgekit.hil.session import Session, first_text_line
from tests.conftest import assert_clean_error

BANNER = b"\r\nESP-ROM:esp32c3-api1-20210207\r\nrst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)\r\n"
LOG = b"I (312) app_main: blinking LED \x1b[0m\r\n"


def _talk(write, read, stop: threading.Event) -> None:
    """A device running someone else's firmware: a banner, then a log line per request."""
    write(BANNER)
    while not stop.is_set():
        if read():
            write(LOG)
        else:
            write(LOG)
            time.sleep(0.1)


@contextmanager
def text_pty() -> Iterator[str]:
    """A pty whose other end behaves like a board printing text; yields the port path."""
    master, slave = os.openpty()
    os.set_blocking(master, False)
    stop = threading.Event()

    def read() -> bytes:
        try:
            return os.read(master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def write(data: bytes) -> None:
        try:
            os.write(master, data)
        except OSError:
            pass

    t = threading.Thread(target=_talk, args=(write, read, stop), daemon=True)
    t.start()
    try:
        yield os.ttyname(slave)
    finally:
        stop.set()
        t.join(timeout=5)
        os.close(master)
        os.close(slave)


@contextmanager
def text_socket() -> Iterator[str]:
    """A TCP server printing text to whoever connects; yields its socket:// URL."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(5)
    stop = threading.Event()

    def serve() -> None:
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        conn.settimeout(0.1)

        def read() -> bytes:
            try:
                return conn.recv(4096)
            except OSError:
                return b""

        def write(data: bytes) -> None:
            try:
                conn.sendall(data)
            except OSError:
                stop.set()

        _talk(write, read, stop)
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield f"socket://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        srv.close()
        t.join(timeout=5)


def test_first_text_line() -> None:
    assert first_text_line(BANNER) == "ESP-ROM:esp32c3-api1-20210207"
    assert first_text_line(b"\x8f\x01\x92\xff\x00\x13\x37") is None  # binary: wrong baud rate, not text
    assert first_text_line(LOG) == "I (312) app_main: blinking LED \\x1b[0m"
    long = first_text_line(b"x" * 200)
    assert long is not None and len(long) == 60 and long.endswith("…")


@pytest.mark.parametrize("port", [text_pty, text_socket], ids=["pty", "socket"])
def test_text_answer_is_not_reported_as_silence(port) -> None:
    with port() as url:
        s = Session(url, handshake_timeout=1.0)
        with pytest.raises(DeviceError) as exc:
            s.connect()
    msg = str(exc.value)
    assert "answers with text that is not the edgekit protocol" in msg
    assert "ESP-ROM:esp32c3-api1-20210207" in msg or "app_main: blinking LED" in msg
    assert "flash the project" in msg and "powered" not in msg
    assert exc.value.exit_code == 3


def test_text_answer_through_the_cli(cli, tmp_path) -> None:
    with text_pty() as url:
        r = cli("stream", "--board", "qemu-netduinoplus2", "--port", url, "--sensor", "accel", "--rate", "10",
                "--seconds", "1", "-o", tmp_path / "x.csv", timeout=120)
    assert_clean_error(r, 3, "answers with text that is not the edgekit protocol", "app_main", "flash the project")
    assert not (tmp_path / "x.csv").exists()
