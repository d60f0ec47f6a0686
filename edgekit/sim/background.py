"""`edgekit sim start|stop`: the virtual board as a background process between commands.

`start` launches QEMU detached (it must outlive the command) and records its pid and pty in
PROJECT/build/sim.json; `stop` ends it (SIGTERM, then SIGKILL) and removes the record.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from edgekit.boards import Board
from edgekit.errors import DeviceError, InputFileError, UsageError
from edgekit.sim.qemu import _PTY_LINE, QemuBoard

STATE_FILE = "sim.json"


def _state_path(project_dir: Path) -> Path:
    return Path(project_dir) / "build" / STATE_FILE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_background(board: Board, project_dir: Path, *, timeout: float = 10.0) -> dict:
    """Start QEMU with the project's ELF; returns {"pid", "pty", "log"}."""
    state_path = _state_path(project_dir)
    if state_path.is_file():
        state = json.loads(state_path.read_text())
        if _alive(state["pid"]):
            raise UsageError(f"the virtual board of {project_dir} is already running (pid {state['pid']}, "
                             f"{state['pty']})", hint="edgekit sim stop first")
    elf = Path(project_dir) / "build" / "firmware.elf"
    if not elf.is_file():
        raise InputFileError(f"firmware image {elf} not found", hint="run `edgekit build` first")
    argv = QemuBoard.for_board(board, elf).argv
    log_path = state_path.with_name("qemu.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _PTY_LINE.search(log_path.read_text(errors="replace"))
        if match:
            state = {"pid": proc.pid, "pty": match.group(1), "log": str(log_path), "argv": argv}
            state_path.write_text(json.dumps(state, indent=2) + "\n")
            return state
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
    raise DeviceError(f"QEMU did not start the virtual board: {tail[0]}", hint=f"log: {log_path}")


def stop_background(project_dir: Path, *, grace: float = 3.0) -> dict | None:
    """Stop the recorded QEMU; returns its state, or None when none was running."""
    state_path = _state_path(project_dir)
    if not state_path.is_file():
        return None
    state = json.loads(state_path.read_text())
    pid = int(state["pid"])
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
    state_path.unlink()
    return state


def _reap(pid: int) -> None:
    """Collect the child if this process started it (tests); harmless otherwise."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
