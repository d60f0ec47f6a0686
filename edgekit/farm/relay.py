"""A virtual board's console in the farm: the pty the exporter serves (fixed for the farm's life),
the board's current QEMU behind it (replaced by each flash), and the relay thread that carries bytes
between them at the board's baud rate, as the UART and cable of a real board would.

Why pace: on a real farm a stop-and-wait validation is bound by the serial line (115200 baud: about
87 µs a byte), so boards in parallel overlap their waits; an unpaced pty is bound by the CPU instead
(every byte costs work in the client, ser2net, the relay and QEMU), which a 2-core machine cannot
spread over four boards. Pacing makes a virtual farm behave, and scale, like a real one; `farm up
--baud 0` turns it off.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import threading
import time
import tty
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.boards import Board
from edgekit.errors import DeviceError
from edgekit.hil.protocol import Msg
from edgekit.sim.qemu import VirtualBoard

IDLE_PAUSE_S = 2.0   # a board nobody talked to for this long is paused (SIGSTOP) until spoken to
NAP_S = 0.02         # a board that just sent a frame is paused this long, unless a client speaks first
_BITS_PER_BYTE = 10  # start + 8 data + stop
_HOLD_MARGIN_S = 0.0005   # QEMU's output is read this long before its wire is free again
# Frames a streaming board sends on its own: no nap after them.
_STREAMING = (Msg.SAMPLE, Msg.STREAM_START | Msg.REPLY)


@dataclass
class Wire:
    """One direction of a serial line: bytes arrive at the far end once their bits have crossed it."""

    baud: int                       # 0: no pacing
    queue: deque[tuple[float, bytes]] = field(default_factory=deque)
    free_at: float = 0.0

    def put(self, data: bytes, now: float) -> None:
        """`data` was written at `now`: it arrives after the line is free and its bits have crossed."""
        start = max(now, self.free_at)
        self.free_at = start + (len(data) * _BITS_PER_BYTE / self.baud if self.baud else 0.0)
        self.queue.append((self.free_at, data))

    def due(self, now: float) -> bytes:
        """What has arrived by `now`."""
        out = []
        while self.queue and self.queue[0][0] <= now:
            out.append(self.queue.popleft()[1])
        return b"".join(out)

    @property
    def next_at(self) -> float | None:
        """When the next bytes arrive, or None."""
        return self.queue[0][0] if self.queue else None


@dataclass
class BoardSlot:
    """One virtual board: its exported pty (fixed) and its current QEMU (replaced by each flash)."""

    name: str
    board: Board
    images: Path
    sockets: Path                       # where its QEMU's console socket goes
    master: int = -1
    slave: int = -1
    exported: str = ""
    qemu: VirtualBoard | None = None
    qemu_fd: int = -1
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_io: float = 0.0        # monotonic time of the last byte from a client
    paused_until: float | None = None   # None: running; else QEMU is stopped until then (inf: idle)
    in_frame: bool = False              # QEMU's output is inside a frame's body
    head: bytes = b""                   # that frame's first COBS bytes (code, version, type)
    generation: int = 0                 # counts QEMU consoles opened or closed (see Relay.run)

    # An edgekit firmware waiting for a request polls its UART flat out: a core per virtual board, which
    # a real board spends on its own silicon. So QEMU is stopped (SIGSTOP; under -icount its virtual time
    # stops too, so no count changes) while it can only be waiting: for NAP_S after it sent a reply
    # (stop-and-wait; not while it streams), and for good once no client spoke for IDLE_PAUSE_S. A
    # request reaching its UART resumes it at once. Call these with `lock` held.

    def frame_closed(self, data: bytes) -> int | None:
        """The message type of the frame whose closing delimiter ends `data` (QEMU's latest output),
        -1 when unreadable, None when `data` does not end a frame (the 0x00 that opens one does not)."""
        closed: int | None = None
        parts = data.split(b"\x00")
        for i, part in enumerate(parts):
            if part:
                if not self.in_frame:
                    self.head = b""
                self.in_frame, closed = True, None
                self.head += part[:max(0, 3 - len(self.head))]
            if i < len(parts) - 1 and self.in_frame:   # a 0x00 closes the body
                # COBS: a first code byte >= 3 means the next two bytes (version, type) are literal.
                closed = self.head[2] if len(self.head) >= 3 and self.head[0] >= 3 else -1
                self.in_frame = False
        return closed

    def _signal(self, sig: int) -> None:
        proc = self.qemu._proc if self.qemu is not None else None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, sig)

    def resume(self) -> None:
        """Let QEMU run (it reads what waited on its console)."""
        if self.paused_until is not None:
            self.paused_until = None
            self._signal(signal.SIGCONT)

    def pause(self, until: float) -> None:
        """Stop QEMU until `until` (monotonic), or until resumed."""
        if self.paused_until is None:
            self._signal(signal.SIGSTOP)
        self.paused_until = until

    def tick(self, now: float) -> None:
        """End a nap that ran out; pause a board nobody spoke to for IDLE_PAUSE_S."""
        idle = now - self.last_io > IDLE_PAUSE_S
        if self.paused_until is not None and now >= self.paused_until:
            if idle:
                self.paused_until = float("inf")
            else:
                self.resume()
        elif self.paused_until is None and idle and self.qemu is not None:
            self.pause(float("inf"))

    def open_pty(self) -> None:
        """The pty whose path the exporter publishes; this process keeps both ends open, so the
        exported path outlives every client and every QEMU."""
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.exported = os.ttyname(self.slave)

    def flash(self, elf_bytes: bytes) -> dict[str, Any]:
        """Stop the board's QEMU and start one running the new image."""
        with self.lock:
            path = self.images / f"{self.name}.elf"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(elf_bytes)
            tmp.replace(path)
            self.stop_qemu()
            qemu = VirtualBoard.for_board(self.board, path, console_socket=self.sockets / f"{self.name}.sock")
            try:
                fd = _connect(qemu.start())
            except BaseException:
                qemu.stop()
                raise
            self.qemu, self.qemu_fd, self.paused_until, self.last_io = qemu, fd, None, time.monotonic()
            self.in_frame = False
            self.generation += 1
            return self.status()

    def stop_qemu(self) -> None:
        """Stop the current QEMU, if any (its console is closed first, so the relay drops it)."""
        if self.qemu_fd >= 0:
            os.close(self.qemu_fd)
            self.qemu_fd = -1
            self.generation += 1
        if self.qemu is not None:
            self.resume()   # a stopped process would not see SIGTERM before its grace runs out
            self.qemu.stop()
            self.qemu = None

    def status(self) -> dict[str, Any]:
        """What `farm status` shows of this board."""
        q = self.qemu
        pid = q._proc.pid if q is not None and q._proc is not None else None
        return {"name": self.name, "pty": self.exported, "running": bool(q and q.running), "qemu_pid": pid,
                "paused": self.paused_until is not None, "argv": q.argv if q else None}


def _connect(path: str, timeout: float = 5.0) -> int:
    """A non-blocking descriptor of QEMU's console socket (QEMU binds it a moment before it listens)."""
    deadline = time.monotonic() + timeout
    while True:
        console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            console.connect(path)
        except ConnectionRefusedError:
            console.close()
            if time.monotonic() > deadline:
                raise DeviceError(f"the virtual board's console {path} was not accepting within {timeout:g} s",
                                  hint="see the farm's logs") from None
            time.sleep(0.01)
            continue
        console.setblocking(False)
        return console.detach()


class Relay(threading.Thread):
    """Carries bytes between each board's exported pty and its QEMU's console socket (one thread for
    all boards), each direction through a Wire at the board's baud rate."""

    def __init__(self, slots: list[BoardSlot], baud: int) -> None:
        super().__init__(name="farm-relay", daemon=True)
        self.slots = slots
        self.stopping = threading.Event()
        self.to_board = [Wire(baud) for _ in slots]
        self.to_client = [Wire(baud) for _ in slots]
        self.held_until = [0.0] * len(slots)   # QEMU's output is not read before (see run)

    def run(self) -> None:
        """Poll every console; a QEMU that died just stops answering (its client sees a dead board)."""
        sel = selectors.DefaultSelector()
        # slot index -> (fd, generation) registered; a new QEMU's socket often gets the old one's fd number,
        # which epoll dropped when the old one closed, so the generation tells them apart.
        watched: dict[int, tuple[int, int]] = {}
        for i, slot in enumerate(self.slots):
            sel.register(slot.master, selectors.EVENT_READ, (i, True))
        while not self.stopping.is_set():
            now = time.monotonic()
            for i, slot in enumerate(self.slots):   # a flash replaced (or a death closed) a QEMU's console
                # While its wire is busy, QEMU's output is left to gather (QEMU writes a byte at a
                # time): read at the end, it crosses the wire at the same moment, for one wakeup.
                now_watching = (slot.qemu_fd if now >= self.held_until[i] else -1, slot.generation)
                if watched.get(i, (-1, 0)) != now_watching:
                    with contextlib.suppress(KeyError, ValueError, OSError):
                        sel.unregister(watched.pop(i)[0])
                    if now_watching[0] >= 0:
                        with contextlib.suppress(ValueError, OSError):
                            sel.register(now_watching[0], selectors.EVENT_READ, (i, False))
                            watched[i] = now_watching
            for key, _ in sel.select(self._timeout()):
                i, from_client = key.data
                self._read(i, from_client, key.fd)
                if not from_client:
                    self.held_until[i] = self.to_client[i].free_at - _HOLD_MARGIN_S
            now = time.monotonic()
            for i, slot in enumerate(self.slots):
                if slot.lock.acquire(blocking=False):   # else a flash is replacing its QEMU
                    try:
                        self._deliver(i, now)
                        slot.tick(now)
                    finally:
                        slot.lock.release()
        sel.close()

    def _timeout(self) -> float:
        now = time.monotonic()
        soon = [t for t in (*(w.next_at for w in self.to_board), *(w.next_at for w in self.to_client),
                            *(s.paused_until for s in self.slots), *(h for h in self.held_until if h > now))
                if t is not None and t != float("inf")]
        return max(0.0, min([0.05, *(t - now for t in soon)]))

    def _read(self, i: int, from_client: bool, src: int) -> None:
        slot = self.slots[i]
        try:
            data = os.read(src, 4096)
        except BlockingIOError:
            return
        except OSError:   # QEMU gone: its socket hangs up; forget it until the next flash
            data = b""
        if not slot.lock.acquire(blocking=False):
            return   # a flash is replacing this QEMU: what was read belonged to the old one
        try:
            now = time.monotonic()
            if not data:
                if not from_client and slot.qemu_fd == src:
                    os.close(src)
                    slot.qemu_fd = -1
                    slot.generation += 1
                return
            if from_client:
                slot.last_io = now
                self.to_board[i].put(data, now)
            else:
                self.to_client[i].put(data, now)
                if slot.frame_closed(data) not in (None, *_STREAMING):   # a reply: it waits for the host now
                    slot.pause(now + NAP_S)
        finally:
            slot.lock.release()

    def _deliver(self, i: int, now: float) -> None:
        """Write what has crossed each wire; call with the slot's lock held."""
        slot = self.slots[i]
        to_board = self.to_board[i].due(now)
        if to_board:
            slot.resume()   # the request reaches the UART: the firmware runs again
            if slot.qemu_fd >= 0:   # else no board runs: lost, as on an unpowered board
                with contextlib.suppress(OSError):
                    os.write(slot.qemu_fd, to_board)
        to_client = self.to_client[i].due(now)
        if to_client:
            with contextlib.suppress(OSError):   # nobody reads the exported pty: dropped, as a UART does
                os.write(slot.master, to_client)
