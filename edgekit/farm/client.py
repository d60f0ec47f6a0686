"""labgrid's client, driven as the `labgrid-client` program.

Why a subprocess and not labgrid's Python API: labgrid.remote.client.ClientSession is asyncio
code internal to labgrid (its methods read argparse namespaces and print), while the command
line is the interface labgrid documents and keeps stable across releases. One call costs about
0.3 s, paid a few times per run (find, reserve, acquire, show, release), never per sample.
Every call runs in its own session so a Ctrl-C on the terminal cannot kill the release that
edgekit runs while it stops; every call has a timeout.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import DeviceError, EdgekitError, MissingToolError, UsageError

DEFAULT_COORDINATOR = "127.0.0.1:20408"
INSTALL_HINT = "install labgrid: pip install 'edgekit[farm]' (labgrid 26.0.1)"
CALL_TIMEOUT_S = 30.0
WAIT_POLL_S = 0.5
_TOKEN = re.compile(r"LG_TOKEN=(\w+)")
_ACQUIRED = re.compile(r"acquired place (\S+)")
_RESOURCE = re.compile(r"^Acquired resource '([^']+)' \(([^)]+)\):$")


def labgrid_program(name: str) -> str:
    """The path of labgrid's program `name` (beside this Python first: a venv need not be on PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        raise MissingToolError(f"{name} not found (needed to use a labgrid board farm)", hint=INSTALL_HINT)
    return found


def tags_text(tags: Mapping[str, str]) -> str:
    """Tags as labgrid writes them: "board=nucleo-f446re lab=rack1"."""
    return " ".join(f"{k}={v}" for k, v in tags.items())


@dataclass(frozen=True)
class PlaceInfo:
    """A place as the coordinator lists it."""

    name: str
    tags: dict[str, str]
    acquired: str | None      # "host/user" of the holder, None when free

    def matches(self, tags: Mapping[str, str]) -> bool:
        """The place has every tag of `tags` (labgrid's reservation filter)."""
        return all(self.tags.get(k) == v for k, v in tags.items())


@dataclass(frozen=True)
class Resource:
    """A resource of an acquired place: its class and parameters as the exporter published them."""

    name: str
    path: str                 # exporter/group/class/name
    cls: str                  # e.g. NetworkSerialPort, NetworkUSBDebugger
    params: dict[str, Any]

    @property
    def exporter(self) -> str:
        """The exporter's name (the first part of the path)."""
        return self.path.split("/", 1)[0]


class LabgridClient:
    """The coordinator at `address` ("HOST:PORT"), through `labgrid-client -x ADDRESS`."""

    def __init__(self, address: str = DEFAULT_COORDINATOR, *, timeout: float = CALL_TIMEOUT_S) -> None:
        self.address = address
        self.timeout = timeout
        self._program = labgrid_program("labgrid-client")

    def _argv(self, *args: str) -> list[str]:
        return [self._program, "-x", self.address, *args]

    def run(self, *args: str) -> str:
        """Run one labgrid-client command; its stdout, or one clear error."""
        argv = self._argv(*args)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"the labgrid coordinator at {self.address} did not answer `{' '.join(args)}` "
                              f"within {self.timeout:g} s", hint="check the coordinator's host and port") from None
        if proc.returncode != 0:
            raise self._error(args, proc.stderr + proc.stdout)
        return proc.stdout

    def _error(self, args: tuple[str, ...], output: str) -> Exception:
        lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
        last = lines[-1] if lines else "no output"
        if "Could not connect to coordinator" in output or "coordinator is unavailable" in output:
            return DeviceError(f"no labgrid coordinator answers at {self.address}",
                               hint="start one (edgekit farm up N, or labgrid-coordinator --listen "
                                    f"{DEFAULT_COORDINATOR}) or pass the right --farm HOST:PORT")
        if "matches nothing" in last:
            return UsageError(f"no such place on the labgrid coordinator at {self.address}: "
                              f"{last.split('Error: ', 1)[-1]}", hint=self._places_hint())
        return DeviceError(f"labgrid-client {' '.join(args)} failed at {self.address}: "
                           f"{last.split('Error: ', 1)[-1]}")

    def _places_hint(self) -> str:
        try:
            places = self.places()
        except Exception:  # the hint is a courtesy; the error it decorates is what matters
            return "list them with labgrid-client places"
        listed = "; ".join(f"{p.name} ({tags_text(p.tags) or 'no tags'})" for p in places)
        return f"places there: {listed}" if listed else "the coordinator has no places"

    # -- queries -----------------------------------------------------------------------

    def places(self) -> list[PlaceInfo]:
        """Every place with its tags and holder."""
        found: list[PlaceInfo] = []
        name: str | None = None
        tags: dict[str, str] = {}
        acquired: str | None = None
        for line in self.run("-v", "places").splitlines() + ["Place '':"]:
            m = re.match(r"^Place '([^']*)':", line)
            if m:
                if name:
                    found.append(PlaceInfo(name, tags, acquired))
                name, tags, acquired = m.group(1), {}, None
            elif line.startswith("  tags:"):
                tags = dict(t.split("=", 1) for t in line.split(":", 1)[1].replace(",", " ").split() if "=" in t)
            elif line.startswith("  acquired:"):
                holder = line.split(":", 1)[1].strip()
                acquired = None if holder in ("", "None") else holder
        return found

    def resources(self, place: str) -> list[Resource]:
        """The resources of `place` (acquired by this client): `labgrid-client show`'s blocks."""
        found: list[Resource] = []
        lines = self.run("-p", place, "show").splitlines()
        for i, line in enumerate(lines):
            m = _RESOURCE.match(line)
            if not m:
                continue
            body = []
            for nxt in lines[i + 1:]:
                if not nxt.startswith("  "):
                    break
                body.append(nxt[2:])
            data = ast.literal_eval("\n".join(body))   # a pprint'ed dict of plain values
            found.append(Resource(m.group(1), m.group(2), str(data["cls"]), dict(data.get("params", {}))))
        return found

    # -- locking -----------------------------------------------------------------------

    def acquire(self, place: str) -> str:
        """Lock `place` (a name, or "+TOKEN" for a reservation's); the name of the place locked."""
        m = _ACQUIRED.search(self.run("-p", place, "acquire"))
        if not m:
            raise DeviceError(f"labgrid-client did not say which place it acquired for {place}")
        return m.group(1)

    def release(self, place: str) -> None:
        """Unlock `place`."""
        self.run("-p", place, "release")

    def cancel(self, token: str) -> None:
        """Cancel a reservation (done or not)."""
        self.run("cancel-reservation", token)

    def reserve(self, tags: Mapping[str, str], *, timeout: float, on_wait: Callable[[float], None] | None = None,
                stop: threading.Event | None = None) -> str:
        """Queue a reservation for one place with `tags` and wait (at most `timeout` s, or until `stop`)
        until labgrid allocates it a place; its token. `on_wait(seconds)` about every half second while it
        waits. One `labgrid-client reserve --wait` does both (it prints the token first, then polls the
        coordinator, which keeps the reservation alive while it waits in the queue)."""
        what = f"tags {tags_text(tags)}"
        proc = subprocess.Popen(self._argv("reserve", "--wait", "--shell", *(f"{k}={v}" for k, v in tags.items())),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        token = None
        try:
            assert proc.stdout is not None
            m = _TOKEN.search(proc.stdout.readline())   # printed before the wait; EOF when the call failed
            token = m.group(1) if m else None
            started = time.monotonic()
            while True:
                try:
                    proc.wait(WAIT_POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    waited = time.monotonic() - started
                    if stop is not None and stop.is_set():
                        raise DeviceError(f"stopped waiting for a place with {what}") from None
                    if waited > timeout:
                        raise DeviceError(f"no place with {what} became free within {timeout:g} s at {self.address}",
                                          hint=f"they are in use (labgrid-client -x {self.address} who); "
                                               "wait longer with --farm-timeout") from None
                    if on_wait is not None:
                        on_wait(waited)
            if proc.returncode != 0 or token is None:
                raise self._error(("reserve", what), (proc.stderr.read() if proc.stderr else "") or "no token")
            return token
        except BaseException:
            if token is not None:
                try:
                    self.cancel(token)
                except EdgekitError:
                    pass   # the error that stopped the wait is the one to report
            raise
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


__all__ = ["CALL_TIMEOUT_S", "DEFAULT_COORDINATOR", "INSTALL_HINT", "LabgridClient", "PlaceInfo", "Resource",
           "labgrid_program", "tags_text"]
