"""The virtual board: STM32 firmware in QEMU behind a pseudo-terminal.

    with QemuBoard(elf) as vb:          # or QemuBoard.for_board(board, elf)
        link = serial.serial_for_url(vb.pty, baudrate=115200, timeout=1)
        ...                              # handshake first: bytes sent before the firmware
        code = vb.wait(timeout=10)       # enables its USART are lost
                                         # -> the firmware's semihosting exit code

QEMU runs as ``qemu-system-arm -M netduinoplus2 -icount shift=0 -nographic -monitor none
-serial pty -semihosting-config enable=on,target=native -kernel FIRMWARE``. Under
``-icount shift=0`` one instruction is one nanosecond of virtual time, so TIM2 (prescaler 0,
clocked at 1 GHz by QEMU) counts executed instructions: deterministic, not real latency.
QEMU is always stopped when the ``with`` block ends (terminate, then kill), on errors and
Ctrl-C too, and it is asked to die with its parent (PR_SET_PDEATHSIG) so no orphan remains.
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
from edgekit.errors import DeviceError, InputFileError, MissingToolError, UsageError
from edgekit.tools import tool

QEMU = "qemu-system-arm"
DEFAULT_MACHINE_ARGS = ("-M", "netduinoplus2", "-icount", "shift=0")
#: What QEMU prints once the board's first serial port is on a pty; group 1 is its path.
PTY_LINE = re.compile(r"char device redirected to (\S+) \(label serial0\)")


def require_qemu(program: str = QEMU) -> str:
    """The path of the QEMU `program`; MissingToolError with the install line of the tools
    registry when it is not on PATH (`program` may be another build of qemu-system-arm)."""
    path = shutil.which(program)
    if path is None:
        qemu = tool(QEMU)
        raise MissingToolError(f"{program} not found on PATH (needed to {qemu.needed_for})",
                               hint=f"install it: {qemu.install}")
    return path


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


class QemuBoard:
    """One QEMU process running one firmware image; use it as a context manager."""

    def __init__(self, elf: Path, *, machine_args: Sequence[str] = DEFAULT_MACHINE_ARGS,
                 extra_args: Sequence[str] = (), qemu: str = QEMU,
                 startup_timeout: float = 10.0) -> None:
        self.elf = Path(elf)
        self.qemu = qemu
        self.machine_args = tuple(machine_args)
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.pty: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._out: list[str] = []
        self._lock = threading.Lock()
        self._pty_found = threading.Event()
        self._reader: threading.Thread | None = None
        self._stopped = False

    @classmethod
    def for_board(cls, board: Board, elf: Path, **kwargs: object) -> QemuBoard:
        """Use the machine arguments of the board's "qemu" runner (its board file)."""
        runner = next((r for r in board.runners if r.name == "qemu"), None)
        if runner is None:
            raise UsageError(f"board '{board.id}' is not a virtual board (no 'qemu' runner)",
                             hint="use a board with virtual = true, e.g. qemu-netduinoplus2")
        return cls(elf, machine_args=runner.args or DEFAULT_MACHINE_ARGS, **kwargs)  # type: ignore[arg-type]

    @property
    def argv(self) -> list[str]:
        """The exact command line QEMU is started with."""
        return [self.qemu, *self.machine_args, "-nographic", "-monitor", "none",
                "-serial", "pty", "-semihosting-config", "enable=on,target=native",
                *self.extra_args, "-kernel", str(self.elf)]

    @property
    def output(self) -> str:
        """Everything QEMU printed so far (its messages and semihosting output)."""
        with self._lock:
            return "".join(self._out)

    @property
    def running(self) -> bool:
        """QEMU was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> str:
        """Start QEMU and return the pty its first serial port is connected to."""
        if self._proc is not None:
            raise RuntimeError("this QemuBoard was already started")
        require_qemu(self.qemu)
        if not self.elf.is_file():
            raise InputFileError(f"firmware image {self.elf} not found",
                                 hint="build the firmware first: edgekit build")
        self._proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read_output, name="qemu-stdout",
                                        daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._pty_found.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._reader.join(1.0)
                why = (f"exited with code {self._proc.returncode}" if self._proc.poll() is not None
                       else f"printed no pty within {self.startup_timeout:.0f} s")
                tail = self.output.strip().splitlines()[-1:] or ["no output"]
                self.stop()
                raise DeviceError(f"QEMU {why} while starting {self.elf}: {tail[0]}",
                                  hint="check the firmware image and `" + " ".join(self.argv) + "`")
        assert self.pty is not None
        return self.pty

    def _read_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for raw in iter(self._proc.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            with self._lock:
                self._out.append(line)
            m = PTY_LINE.search(line)
            if m and self.pty is None:
                self.pty = m.group(1)
                self._pty_found.set()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for QEMU to exit; its exit code is the firmware's semihosting exit code."""
        if self._proc is None:
            raise RuntimeError("QEMU was not started")
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
        """Stop QEMU: SIGTERM, then SIGKILL after `grace` seconds. Safe to call twice.
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

    def __enter__(self) -> QemuBoard:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort: never leave a QEMU behind
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(1.0)
            except (OSError, subprocess.TimeoutExpired):
                pass


__all__ = ["QemuBoard", "QEMU", "DEFAULT_MACHINE_ARGS", "PTY_LINE", "require_qemu"]
