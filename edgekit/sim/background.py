"""`edgekit sim start|stop`: the virtual board as a background process between commands.

`start` launches QEMU detached (it must outlive the command) and records its pid and pty in
sim.json in the project's build directory; `stop` ends it (SIGTERM, then SIGKILL) and
removes the record.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import DeviceError, UsageError
from edgekit.sim.qemu import VirtualBoard, require_emulator

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.project.manifest import Project

STATE_FILE = "sim.json"
LOG_FILE = "qemu.log"


@dataclass(frozen=True)
class SimState:
    """A virtual board running in the background, as recorded in the state file."""

    pid: int
    pty: str            # the serial port to talk to it
    log: str            # QEMU's output
    argv: list[str]     # its exact command line

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-ready data (the state file's content, `sim start --json`)."""
        return asdict(self)

    def to_json(self) -> str:
        """The state file's text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def read(cls, path: Path) -> SimState:
        """The state recorded in `path`."""
        data = json.loads(path.read_text())
        return cls(int(data["pid"]), str(data["pty"]), str(data["log"]), [str(a) for a in data["argv"]])


def _state_path(project: Project) -> Path:
    return project.build_dir / STATE_FILE


def process_alive(pid: int) -> bool:
    """Whether process `pid` runs (one of another user's counts); our own child that exited is
    a zombie until reaped, and is reaped here."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:   # not our child: kill(0) said it runs
        return True


def start_background(project: Project, *, timeout: float = 10.0) -> SimState:
    """Start QEMU with the project's built firmware on its (virtual) board, detached.

    UsageError when the board is not virtual or one is already running for the project; InputFileError when the project
    was not built; MissingToolError without QEMU; DeviceError when QEMU does not start.
    """
    if not project.board.virtual:
        raise UsageError(f"board '{project.board.id}' is not a virtual board: `sim start` runs QEMU only",
                         hint="flash a physical board with `edgekit flash`, or use a virtual board "
                              "such as qemu-netduinoplus2")
    state_path = _state_path(project)
    if state_path.is_file():
        running = SimState.read(state_path)
        if process_alive(running.pid):
            raise UsageError(f"the virtual board of {project.root} is already running (pid {running.pid}, "
                             f"{running.pty})", hint="edgekit sim stop first")
    qemu = VirtualBoard.for_board(project.board, project.built_elf())
    require_emulator(qemu.argv[0])
    log_path = project.build_dir / LOG_FILE
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(qemu.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = qemu.pty_line.search(log_path.read_text(errors="replace"))
        if match:
            state = SimState(proc.pid, match.group(1), str(log_path), qemu.argv)
            state_path.write_text(state.to_json())
            return state
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
    raise DeviceError(f"QEMU did not start the virtual board: {tail[0]}", hint=f"log: {log_path}")


def stop_background(project: Project, *, grace: float = 3.0) -> SimState | None:
    """Stop the project's recorded QEMU; returns its state, or None when none was running."""
    state_path = _state_path(project)
    if not state_path.is_file():
        return None
    state = SimState.read(state_path)
    if process_alive(state.pid):
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while process_alive(state.pid) and time.monotonic() < deadline:
            _reap(state.pid)
            time.sleep(0.05)
        if process_alive(state.pid):
            os.kill(state.pid, signal.SIGKILL)
            _reap(state.pid)
    state_path.unlink()
    return state


def _reap(pid: int) -> None:
    """Collect the child if this process started it (tests); harmless otherwise."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


__all__ = ["SimState", "STATE_FILE", "process_alive", "start_background", "stop_background"]
