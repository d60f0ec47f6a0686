"""The virtual farm between commands: `edgekit farm up N` starts it detached (edgekit.farm.supervisor
runs it) and records it in a state directory; `farm status` reads it; `farm down` stops it all.

Everything it starts listens on 127.0.0.1 only: the coordinator (`--listen 127.0.0.1:PORT`; labgrid's
default would be every interface), the consoles' ser2net ports and the flasher's HTTP server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgekit.data import atomic_write_text
from edgekit.errors import DeviceError, MissingToolError, UsageError
from edgekit.farm.client import DEFAULT_COORDINATOR, labgrid_program
from edgekit.sim.background import process_alive

EXPORTER_NAME = "edgekit-farm"
PLACE_PREFIX = "virtual-"
CONFIG_JSON = "config.json"
STATE_JSON = "farm.json"
FAILED_TXT = "failed.txt"
LOG = "farm.log"
START_TIMEOUT_S = 60.0


# How each board's console reaches the network, as a lab does it:
# - console-server: the farm's own ser2net serves every console from `farm up` on, published as a
#   NetworkSerialPort (a lab's terminal server, or ser2net run as a service); acquiring a place is a lock;
# - exporter: labgrid's exporter starts a ser2net for a place's RawSerialPort when the place is acquired
#   and stops it on release, as it does for a board's USB serial port. The exporter waits 0.5 s for each
#   ser2net to start, inside the coordinator's lock: places of a run come 0.5 s apart.
SERIAL_MODES = ("console-server", "exporter")


def default_dir() -> Path:
    """Where the farm of this user lives unless told otherwise."""
    return Path(tempfile.gettempdir()) / f"edgekit-farm-{os.getuid()}"


@dataclass(frozen=True)
class FarmConfig:
    """What to start: N boards of one virtual board id, on a coordinator port, maybe with a first image."""

    boards: int
    board: str = "qemu-netduinoplus2"
    port: int = int(DEFAULT_COORDINATOR.rsplit(":", 1)[1])
    elf: str | None = None       # every board starts with this image; None: they wait for a flash
    prefix: str = PLACE_PREFIX
    baud: int | None = None      # console pacing (edgekit.farm.relay); None: the board's, 0: unpaced
    serial: str = SERIAL_MODES[0]   # who serves the consoles: one of SERIAL_MODES

    def write(self, directory: Path) -> None:
        """config.json, read by the farm process."""
        atomic_write_text(directory / CONFIG_JSON, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, directory: Path) -> FarmConfig:
        """The config.json `write` wrote."""
        return cls(**json.loads((directory / CONFIG_JSON).read_text()))


@dataclass(frozen=True)
class PlaceRecord:
    """One virtual board as a labgrid place."""

    name: str
    board: str
    pty: str          # the console pty ser2net serves


@dataclass(frozen=True)
class FarmState:
    """A running virtual farm (farm.json)."""

    pid: int              # the farm process; its end stops everything
    coordinator: str      # HOST:PORT for --farm
    flasher: str          # the flasher's base URL
    dir: str
    places: list[PlaceRecord]

    def write(self, directory: Path) -> None:
        """farm.json, written once the farm is up."""
        atomic_write_text(directory / STATE_JSON, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, directory: Path) -> FarmState | None:
        """The recorded farm, or None."""
        path = directory / STATE_JSON
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls(int(data["pid"]), data["coordinator"], data["flasher"], data["dir"],
                   [PlaceRecord(**p) for p in data["places"]])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (`farm up --json`)."""
        return asdict(self)


def free_port() -> int:
    """A loopback TCP port nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_ser2net() -> str:
    """ser2net's path (Debian puts it in /usr/sbin, often not on a user's PATH); MissingToolError if absent."""
    found = shutil.which("ser2net") or next((p for p in ("/usr/sbin/ser2net", "/usr/bin/ser2net")
                                             if os.path.exists(p)), None)
    if found is None:
        raise MissingToolError("ser2net not found (the farm's exporter serves each board's console through it)",
                               hint="install it: sudo apt-get install -y ser2net")
    return found


def start_farm(config: FarmConfig, directory: Path | None = None, *, timeout: float = START_TIMEOUT_S,
               on_wait: Callable[[float], None] | None = None) -> FarmState:
    """Start a virtual farm detached (it outlives this command) and wait until its places exist."""
    directory = directory or default_dir()
    running = FarmState.read(directory)
    if running is not None and process_alive(running.pid):
        raise UsageError(f"a virtual farm already runs from {directory} (coordinator {running.coordinator})",
                         hint="edgekit farm down first, or pass another --dir")
    if config.boards < 1:
        raise UsageError("a farm needs at least one board")
    if config.serial not in SERIAL_MODES:
        raise UsageError(f"unknown serial mode {config.serial!r}", hint=f"use one of {', '.join(SERIAL_MODES)}")
    with socket.socket() as probe:   # a coordinator already there would take our exporter and places
        try:
            probe.bind(("127.0.0.1", config.port))
        except OSError:
            raise UsageError(f"127.0.0.1:{config.port} is in use (another labgrid coordinator?)",
                             hint="stop it, or pass another --port") from None
    for program in ("labgrid-coordinator", "labgrid-exporter"):
        labgrid_program(program)   # MissingToolError now, not inside the detached process
    find_ser2net()
    if directory.exists():   # a stopped farm's leftovers go; anything else is not ours to delete
        if any(directory.iterdir()) and not (directory / CONFIG_JSON).is_file():
            raise UsageError(f"{directory} is not a virtual farm's directory and is not empty",
                             hint="pass --dir with a new or empty directory")
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    config.write(directory)
    with open(directory / LOG, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "edgekit.farm.supervisor", str(directory)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    started = time.monotonic()
    while True:
        state = FarmState.read(directory)
        if state is not None:
            return state
        failed = directory / FAILED_TXT
        if proc.poll() is not None or failed.is_file():
            proc.wait()
            why = failed.read_text().strip() if failed.is_file() else f"exited with code {proc.returncode}"
            raise DeviceError(f"the virtual farm did not start: {why}", hint=f"log: {directory / LOG}")
        waited = time.monotonic() - started
        if waited > timeout:
            _stop_pid(proc.pid)
            raise DeviceError(f"the virtual farm did not start within {timeout:g} s", hint=f"log: {directory / LOG}")
        if on_wait is not None:
            on_wait(waited)
        time.sleep(0.2)


def _stop_pid(pid: int, grace: float = 15.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_farm(directory: Path | None = None) -> FarmState | None:
    """Stop the farm recorded in `directory` (everything it started); None when none was recorded."""
    directory = directory or default_dir()
    state = FarmState.read(directory)
    if state is None:
        return None
    _stop_pid(state.pid)
    (directory / STATE_JSON).unlink(missing_ok=True)
    return state


def board_status(state: FarmState, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Each virtual board as the farm reports it: its QEMU's pid and command line, running or not."""
    try:
        with urllib.request.urlopen(state.flasher, timeout=timeout) as reply:
            return list(json.loads(reply.read()))
    except OSError as exc:
        raise DeviceError(f"the virtual farm at {state.flasher} does not answer: {exc}",
                          hint=f"restart it: edgekit farm down --dir {state.dir} && edgekit farm up") from None


__all__ = ["EXPORTER_NAME", "FarmConfig", "FarmState", "PLACE_PREFIX", "PlaceRecord", "SERIAL_MODES", "board_status",
           "default_dir", "find_ser2net", "free_port", "start_farm", "stop_farm"]
