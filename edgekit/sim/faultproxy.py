"""A fault-injecting serial proxy for tests: host <-> proxy <-> device.

The proxy opens the device end (a pty path such as the virtual board's, or any
``serial_for_url`` URL) and offers the host a new end: a pseudo-terminal (default) or a
``socket://127.0.0.1:PORT`` server. Bytes are forwarded both ways; :class:`Fault` rules
corrupt, drop, delay or inject garbage at a chosen byte or frame count in one direction,
or cut the link. Everything random comes from ``random.Random(seed)``, so a failing test
replays exactly.

    with FaultProxy(device_pty, [Fault("corrupt", at_frame=3)], seed=1) as proxy:
        Session(proxy.url).connect() ...
"""

from __future__ import annotations

import os
import random
import select
import socket
import threading
import time
import tty
from dataclasses import dataclass
from typing import Literal

import serial

FaultKind = Literal["corrupt", "drop", "delay", "garbage", "cut"]
Direction = Literal["to_device", "to_host"]


@dataclass
class Fault:
    """One fault, applied once when its trigger point is reached.

    Attributes:
        kind: corrupt (XOR ``count`` bytes with non-zero values), drop (``count``
            bytes vanish), delay (hold the direction for ``seconds``), garbage (insert
            ``count`` random bytes), cut (stop forwarding both ways for good).
        direction: ``to_device`` (host requests) or ``to_host`` (device replies).
        at_byte: trigger when this many bytes have passed in ``direction``.
        at_frame: trigger at the first body byte of frame number ``at_frame`` (0-based;
            frames are counted by their closing 0x00). With neither, triggers at once.
        count: bytes affected (corrupt, drop, garbage).
        seconds: delay length.
    """

    kind: FaultKind
    direction: Direction = "to_device"
    at_byte: int | None = None
    at_frame: int | None = None
    count: int = 1
    seconds: float = 0.0


@dataclass
class AppliedFault:
    """A fault that fired: where, in bytes and frames of its direction."""

    direction: str
    kind: str
    byte_pos: int
    frame_no: int


class _Pump:
    """Fault state of one direction."""

    def __init__(self, direction: Direction, faults: list[Fault], rng: random.Random) -> None:
        self.direction = direction
        self.pending = [f for f in faults if f.direction == direction]
        self.rng = rng
        self.bytes_seen = 0
        self.frames_done = 0
        self.prev = 0
        self.active: Fault | None = None  # a corrupt/drop fault still eating bytes
        self.left = 0

    def _due(self, f: Fault, byte: int) -> bool:
        if f.at_byte is not None:
            return self.bytes_seen >= f.at_byte
        if f.at_frame is not None:
            return self.frames_done >= f.at_frame and byte != 0
        return True

    def process(self, data: bytes, log: list[AppliedFault], proxy: FaultProxy) -> bytes:
        out = bytearray()
        for b in data:
            for f in list(self.pending):
                if not self._due(f, b):
                    continue
                self.pending.remove(f)
                log.append(AppliedFault(self.direction, f.kind, self.bytes_seen, self.frames_done))
                if f.kind == "garbage":
                    out += bytes(self.rng.randrange(256) for _ in range(f.count))
                elif f.kind == "delay":
                    # Flush what came before, then hold this direction.
                    proxy._send(self.direction, bytes(out))
                    out.clear()
                    proxy._stop.wait(f.seconds)  # interruptible: close() does not wait it out
                elif f.kind == "cut":
                    proxy._send(self.direction, bytes(out))  # what came before still arrives
                    proxy._cut.set()
                    return b""
                else:
                    self.active, self.left = f, f.count
            self.bytes_seen += 1
            if b == 0 and self.prev != 0:
                self.frames_done += 1
            self.prev = b
            if self.active is not None and self.left > 0:
                self.left -= 1
                if self.left == 0:
                    kind = self.active.kind
                    self.active = None
                else:
                    kind = self.active.kind
                if kind == "drop":
                    continue
                out.append(b ^ self.rng.randrange(1, 256))
                continue
            out.append(b)
        return bytes(out)


class FaultProxy:
    """Forward bytes between a device and a host-facing pty or TCP socket, with faults.

    Args:
        device: the device's port (pty path or pyserial URL).
        faults: rules to apply (each once).
        seed: seed of the random bytes used for corruption and garbage.
        listen: "pty" (``url`` is a pty path) or "tcp" (``url`` is socket://127.0.0.1:N).
    """

    def __init__(self, device: str, faults: list[Fault] | None = None, *, seed: int = 0,
                 listen: Literal["pty", "tcp"] = "pty") -> None:
        self.device_url = device
        self.faults = list(faults or [])
        self.seed = seed
        self.listen = listen
        self.applied: list[AppliedFault] = []
        self.url = ""
        self._stop = threading.Event()
        self._cut = threading.Event()
        self._threads: list[threading.Thread] = []
        self._dev: serial.SerialBase | None = None
        self._master = -1
        self._slave = -1
        self._server: socket.socket | None = None
        self._client: socket.socket | None = None
        self._client_ready = threading.Event()
        self._lock = threading.Lock()

    # -- lifetime ---------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> str:
        """Open both ends and start forwarding; returns the host-side URL."""
        self._dev = serial.serial_for_url(self.device_url, baudrate=115200, timeout=0.05)
        if self.listen == "pty":
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)  # no echo or line editing before the host opens it
            self.url = os.ttyname(self._slave)
        else:
            self._server = socket.create_server(("127.0.0.1", 0))
            self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"
        rng = random.Random(self.seed)
        to_dev = _Pump("to_device", self.faults, random.Random(rng.random()))
        to_host = _Pump("to_host", self.faults, random.Random(rng.random()))
        for target, pump in ((self._host_to_device, to_dev), (self._device_to_host, to_host)):
            t = threading.Thread(target=target, args=(pump,), daemon=True)
            t.start()
            self._threads.append(t)
        return self.url

    def close(self) -> None:
        """Stop forwarding and close every end (the host then sees the link drop)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self._close_ends()

    def _close_ends(self) -> None:
        with self._lock:
            for fd in (self._master, self._slave):
                if fd >= 0:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._master = self._slave = -1
            for s in (self._client, self._server):
                if s is not None:
                    s.close()
            self._client = self._server = None
            if self._dev is not None:
                self._dev.close()
                self._dev = None

    # -- host end ---------------------------------------------------------------------

    def _host_read(self) -> bytes | None:
        """Bytes from the host, b'' when none within 50 ms, None when the host end died."""
        if self.listen == "pty":
            r, _, _ = select.select([self._master], [], [], 0.05)
            if not r:
                return b""
            try:
                return os.read(self._master, 4096)
            except OSError:
                return None
        client, server = self._client, self._server
        if client is None:
            if server is None:  # closed while this pump was running
                return None
            accepting, _, _ = select.select([server], [], [], 0.05)
            if accepting:
                self._client, _ = server.accept()
                self._client_ready.set()
            return b""
        readable, _, _ = select.select([client], [], [], 0.05)
        if not readable:
            return b""
        data = client.recv(4096)
        return data if data else None

    def _send(self, direction: str, data: bytes) -> None:
        if not data or self._cut.is_set():
            return
        if direction == "to_device":
            if self._dev is not None:
                self._dev.write(data)
            return
        if self.listen == "pty":
            view = memoryview(data)
            while view and not self._stop.is_set():
                try:
                    n = os.write(self._master, view)
                except BlockingIOError:
                    time.sleep(0.001)
                    continue
                view = view[n:]
        else:
            # Device bytes before the host connects are buffered by the device's pty.
            self._client_ready.wait(timeout=5)
            if self._client is not None:
                self._client.sendall(data)

    # -- pumps ------------------------------------------------------------------------

    def _host_to_device(self, pump: _Pump) -> None:
        try:
            while not self._stop.is_set():
                data = self._host_read()
                if data is None:
                    if self.listen == "tcp":
                        break
                    continue
                if data and not self._cut.is_set():
                    self._send("to_device", pump.process(data, self.applied, self))
        except (OSError, serial.SerialException, ValueError):
            pass

    def _device_to_host(self, pump: _Pump) -> None:
        try:
            while not self._stop.is_set():
                if self.listen == "tcp" and not self._client_ready.is_set():
                    time.sleep(0.01)
                    continue
                dev = self._dev
                if dev is None:
                    break
                data = dev.read(max(1, dev.in_waiting))
                if data and not self._cut.is_set():
                    self._send("to_host", pump.process(data, self.applied, self))
        except (OSError, serial.SerialException, ValueError):
            # The device died: drop the host end too, as an unplugged board would.
            self._stop.set()
            self._close_ends()
