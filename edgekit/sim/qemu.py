"""Virtual boards: a firmware running in an emulator (QEMU) behind a pseudo-terminal.

    with VirtualBoard.for_board(board, elf) as vb:   # the board's family says how it runs
        link = serial.serial_for_url(vb.pty, baudrate=115200, timeout=1)
        ...                              # handshake first: bytes sent before the firmware
        code = vb.wait(timeout=10)       # enables its UART are lost
                                         # -> the firmware's semihosting exit code

The STM32 virtual board runs as ``qemu-system-arm -M netduinoplus2 -icount shift=0 -nographic
-monitor none -serial pty -semihosting-config enable=on,target=native -kernel FIRMWARE``
(:meth:`BoardFamily.virtual_board_argv`; ``QemuBoard(elf)`` builds it by hand). Under
``-icount shift=0`` one instruction is one nanosecond of virtual time, so the board's counter
counts executed instructions: deterministic, not real latency. The process is always stopped
when the ``with`` block ends (terminate, then kill), on errors and Ctrl-C too, and it is asked
to die with its parent (PR_SET_PDEATHSIG) so no orphan remains.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from edgekit.boards import Board
from edgekit.errors import DeviceError, InputFileError, MissingToolError
from edgekit.project.families import family_of
from edgekit.project.families.base import QEMU_FLAGS, QEMU_PTY_LINE
from edgekit.tools import TOOLS

QEMU = "qemu-system-arm"
DEFAULT_MACHINE_ARGS = ("-M", "netduinoplus2", "-icount", "shift=0")
PTY_LINE = QEMU_PTY_LINE


def require_emulator(program: str) -> str:
    """The path of the emulator `program`; MissingToolError with its install line (from the tools
    registry, when it knows the program) when it is not on PATH."""
    path = shutil.which(program)
    if path is None:
        known = TOOLS.get(program) or TOOLS[QEMU]   # another build of a QEMU: QEMU's install line
        raise MissingToolError(f"{program} not found on PATH (needed to {known.needed_for})",
                               hint=f"install it: {known.install}")
    return path


def require_virtual_board(board: Board) -> None:
    """MissingToolError (exit 4) when the emulator of `board`'s family is not installed."""
    program = family_of(board).qemu
    if program is not None:
        require_emulator(program)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


class VirtualBoard:
    """One emulator process running one firmware image, its console on a pty that it names in a
    line matching `pty_line` (or, given `console_socket`, on a Unix socket it listens on there:
    what the virtual farm's relay uses, since a pty costs the kernel a work item per byte QEMU
    writes); use it as a context manager."""

    def __init__(self, argv: Sequence[str], *, elf: Path, pty_line: re.Pattern[str] = PTY_LINE,
                 startup_timeout: float = 10.0, console_socket: Path | None = None) -> None:
        self._argv = [str(a) for a in argv]
        self.console_socket = console_socket
        if console_socket is not None:
            at = next((i + 1 for i, a in enumerate(self._argv[:-1]) if a == "-serial" and self._argv[i + 1] == "pty"),
                      None)
            if at is None:
                raise ValueError(f"no `-serial pty` to put on a socket in {self._argv}")
            self._argv[at] = f"unix:{console_socket},server=on,wait=off"
        self.elf = Path(elf)
        self.pty_line = pty_line
        self.startup_timeout = startup_timeout
        self.pty: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._out: list[str] = []
        self._lock = threading.Lock()
        self._pty_found = threading.Event()
        self._reader: threading.Thread | None = None
        self._stopped = False

    @staticmethod
    def for_board(board: Board, elf: Path, *, startup_timeout: float = 10.0,
                  console_socket: Path | None = None) -> VirtualBoard:
        """`elf` running as the virtual `board`, as its family runs it (UsageError for a real board)."""
        family = family_of(board)
        return VirtualBoard(family.virtual_board_argv(board, elf), elf=elf, pty_line=family.pty_line,
                            startup_timeout=startup_timeout, console_socket=console_socket)

    @property
    def argv(self) -> list[str]:
        """The exact command line the emulator is started with."""
        return list(self._argv)

    @property
    def output(self) -> str:
        """Everything the emulator printed so far (its messages and semihosting output)."""
        with self._lock:
            return "".join(self._out)

    @property
    def running(self) -> bool:
        """The emulator was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> str:
        """Start the emulator and return the pty (or socket) its first serial port is connected to."""
        if self._proc is not None:
            raise RuntimeError("this virtual board was already started")
        require_emulator(self._argv[0])
        if not self.elf.is_file():
            raise InputFileError(f"firmware image {self.elf} not found",
                                 hint="build the firmware first: edgekit build")
        if self.console_socket is not None:
            self.console_socket.unlink(missing_ok=True)   # QEMU will not listen over a stale one
        self._proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read_output, name="qemu-stdout",
                                        daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._pty_found.wait(0.05) and not self._listening():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._reader.join(1.0)
                why = (f"exited with code {self._proc.returncode}" if self._proc.poll() is not None
                       else f"printed no pty within {self.startup_timeout:.0f} s" if self.console_socket is None
                       else f"opened no socket within {self.startup_timeout:.0f} s")
                tail = self.output.strip().splitlines()[-1:] or ["no output"]
                self.stop()
                raise DeviceError(f"{Path(self._argv[0]).name} {why} while starting {self.elf}: {tail[0]}",
                                  hint="check the firmware image and `" + " ".join(self.argv) + "`")
        if self.console_socket is not None:
            return str(self.console_socket)
        assert self.pty is not None
        return self.pty

    def _listening(self) -> bool:
        return self.console_socket is not None and self.console_socket.is_socket()

    def _read_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for raw in iter(self._proc.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            with self._lock:
                self._out.append(line)
            m = self.pty_line.search(line)
            if m and self.pty is None:
                self.pty = m.group(1)
                self._pty_found.set()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the emulator to exit; its exit code is the firmware's semihosting exit code."""
        if self._proc is None:
            raise RuntimeError("the virtual board was not started")
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"the virtual board did not exit within {timeout:g} s",
                              hint="the firmware must call ek_port_exit()") from None
        if self._reader is not None:
            self._reader.join(1.0)
        return code

    @property
    def exit_code(self) -> int | None:
        """The firmware's exit code once QEMU exited by itself; None while running or when
        edgekit had to stop it (QEMU exits 0 on SIGTERM, which must not pass for success)."""
        if self._proc is None or self._proc.poll() is None or self._stopped:
            return None
        return self._proc.returncode

    def stop(self, grace: float = 2.0) -> int | None:
        """Stop the emulator: SIGTERM, then SIGKILL after `grace` seconds. Safe to call twice.
        Returns :attr:`exit_code` (None when QEMU was still running and had to be stopped)."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            self._stopped = True
            try:
                proc.terminate()
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            except KeyboardInterrupt:
                proc.kill()
                proc.wait()
                raise
        if self._reader is not None:
            self._reader.join(1.0)
        if proc.stdout is not None:
            proc.stdout.close()
        return self.exit_code

    def __enter__(self) -> VirtualBoard:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort: never leave an emulator behind
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(1.0)
            except (OSError, subprocess.TimeoutExpired):
                pass


class QemuBoard(VirtualBoard):
    """`qemu` with `machine_args` running `elf` (the STM32 virtual board unless told otherwise)."""

    def __init__(self, elf: Path, *, machine_args: Sequence[str] = DEFAULT_MACHINE_ARGS,
                 extra_args: Sequence[str] = (), qemu: str = QEMU, startup_timeout: float = 10.0) -> None:
        super().__init__([qemu, *machine_args, *QEMU_FLAGS, *extra_args, "-kernel", str(elf)], elf=elf,
                         startup_timeout=startup_timeout)


__all__ = ["VirtualBoard", "QemuBoard", "QEMU", "DEFAULT_MACHINE_ARGS", "PTY_LINE", "require_emulator",
           "require_virtual_board"]
