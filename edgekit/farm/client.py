"""labgrid's client, in this process: one labgrid ClientSession (labgrid.remote.client, the session
labgrid's own RemotePlace and pytest plugin use) kept open for the client's life on a private
event-loop thread, so every call is one gRPC round trip to the coordinator (milliseconds) instead
of a `labgrid-client` process (0.3 s of CPU each, which on a small CI machine delayed a run's
boards behind each other). The coordinator's admin commands (`farm up` creating places) still run
the `labgrid-client` program, the interface labgrid documents for them. Every call has a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from edgekit.errors import DeviceError, EdgekitError, MissingToolError, UsageError

DEFAULT_COORDINATOR = "127.0.0.1:20408"
INSTALL_HINT = "install labgrid: pip install 'edgekit[farm]' (labgrid 26.0.1)"
CALL_TIMEOUT_S = 30.0
WAIT_POLL_S = 0.1   # a waiting reservation is polled this often (it also keeps it alive)
_T = TypeVar("_T")


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


def _not_from_labgrid_session(record: logging.LogRecord) -> bool:
    """labgrid's session logs a lost coordinator on the root logger (a traceback, at times) as well as
    failing the call; edgekit says it once, as the call's error."""
    return not record.pathname.replace("\\", "/").endswith("labgrid/remote/client.py")


class LabgridClient:
    """The coordinator at `address` ("HOST:PORT"). Thread-safe; close() it (or use `with`)."""

    def __init__(self, address: str = DEFAULT_COORDINATOR, *, timeout: float = CALL_TIMEOUT_S) -> None:
        self.address = address
        self.timeout = timeout
        self._lock = threading.Lock()
        self._open: tuple[asyncio.AbstractEventLoop, threading.Thread, Any] | None = None   # connected on first use

    @property
    def _session(self) -> Any:
        """The session (connecting it on first use, so `run` alone never opens one)."""
        with self._lock:
            if self._open is None:
                try:
                    from labgrid.remote import client as lg
                    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2
                    from labgrid.util.proxy import proxymanager
                except ImportError:
                    raise MissingToolError("labgrid is not installed (needed to use a labgrid board farm)",
                                           hint=INSTALL_HINT) from None
                self._lg, self._pb2 = lg, pb2
                root = logging.getLogger()
                if _not_from_labgrid_session not in root.filters:
                    root.addFilter(_not_from_labgrid_session)
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="labgrid-client", daemon=True)
                thread.start()
                grpc_address = proxymanager.get_grpc_address(self.address, default_port=20408)
                try:
                    session = self._run_on(loop, "connect", self._connect(grpc_address, loop))
                except BaseException:
                    _stop_loop(loop, thread)
                    raise
                self._open = (loop, thread, session)
            return self._open[2]

    async def _connect(self, grpc_address: str, loop: asyncio.AbstractEventLoop) -> Any:
        session = self._lg.ClientSession(grpc_address, loop)   # its channel belongs to this loop
        try:
            await session.start()
        except self._lg.Error:
            await session.close()
            raise
        return session

    # -- plumbing ----------------------------------------------------------------------

    def _call(self, what: str, make: Callable[[Any], Awaitable[_T]]) -> _T:
        """Await `make(session)` on the session's loop (gRPC calls belong to it); labgrid's and gRPC's
        errors become one clear error."""
        session = self._session
        assert self._open is not None

        async def call() -> _T:
            return await make(session)
        return self._run_on(self._open[0], what, call())

    def _run_on(self, loop: asyncio.AbstractEventLoop, what: str, coro: Coroutine[Any, Any, _T]) -> _T:
        import grpc

        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, self.timeout), loop)
        try:
            return future.result()
        except TimeoutError:
            raise DeviceError(f"the labgrid coordinator at {self.address} did not answer `{what}` "
                              f"within {self.timeout:g} s", hint="check the coordinator's host and port") from None
        except grpc.aio.AioRpcError as exc:
            raise self._error(what, exc.details() or exc.code().name) from None
        except self._lg.Error as exc:
            raise self._error(what, str(exc)) from None

    def _error(self, what: str, message: str) -> EdgekitError:
        if "Could not connect to coordinator" in message or "unavailable" in message.lower():
            return DeviceError(f"no labgrid coordinator answers at {self.address}",
                               hint="start one (edgekit farm up N, or labgrid-coordinator --listen "
                                    f"{DEFAULT_COORDINATOR}) or pass the right --farm HOST:PORT")
        if "matches nothing" in message or "does not exist" in message:
            return UsageError(f"no such place on the labgrid coordinator at {self.address}: {message}",
                              hint=self._places_hint())
        return DeviceError(f"labgrid {what} failed at {self.address}: {message}")

    def _places_hint(self) -> str:
        try:
            places = self.places()
        except Exception:  # the hint is a courtesy; the error it decorates is what matters
            return "list them with labgrid-client places"
        listed = "; ".join(f"{p.name} ({tags_text(p.tags) or 'no tags'})" for p in places)
        return f"places there: {listed}" if listed else "the coordinator has no places"

    def run(self, *args: str) -> str:
        """Run one `labgrid-client` command (admin: create a place, add a match, set tags); its stdout."""
        argv = [labgrid_program("labgrid-client"), "-x", self.address, *args]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"the labgrid coordinator at {self.address} did not answer `{' '.join(args)}` "
                              f"within {self.timeout:g} s", hint="check the coordinator's host and port") from None
        if proc.returncode != 0:
            lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
            raise self._error(" ".join(args), (lines[-1] if lines else "no output").split("Error: ", 1)[-1])
        return proc.stdout

    def close(self) -> None:
        """End the session and its thread, if one was opened; safe to call twice."""
        with self._lock:
            opened, self._open = self._open, None
        if opened is not None:
            loop, thread, session = opened

            async def end() -> None:
                await session.stop()
                await session.close()
            try:
                self._run_on(loop, "disconnect", end())
            except EdgekitError:
                pass   # the coordinator went away first: nothing left to end
            _stop_loop(loop, thread)

    def __enter__(self) -> LabgridClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries -----------------------------------------------------------------------

    def places(self) -> list[PlaceInfo]:
        """Every place with its tags and holder, as the coordinator has them now."""
        async def query(session: Any) -> list[PlaceInfo]:
            await session.sync_with_coordinator()
            return [PlaceInfo(name, dict(p.tags), p.acquired or None) for name, p in sorted(session.places.items())]
        return self._call("places", query)

    def resources(self, place: str) -> list[Resource]:
        """The resources of `place` (acquired by this client) as their exporters publish them now."""
        async def query(session: Any) -> list[Resource]:
            found = []
            for exporter, group, cls, name in session.get_place(place).acquired_resources:
                entry = session.resources.get(exporter, {}).get(group, {}).get(name)
                if entry is not None:
                    found.append(Resource(name, f"{exporter}/{group}/{cls}/{name}", entry.cls, dict(entry.params)))
            return found
        return self._call(f"-p {place} show", query)

    # -- locking -----------------------------------------------------------------------

    def acquire(self, place: str) -> str:
        """Lock `place` (a name, or "+TOKEN" for a reservation's); the name of the place locked."""
        async def lock(session: Any) -> str:
            name = session.get_place(place).name
            await session.stub.AcquirePlace(self._pb2.AcquirePlaceRequest(placename=name))
            await session.sync_with_coordinator()
            return str(name)
        return self._call(f"-p {place} acquire", lock)

    def release(self, place: str) -> None:
        """Unlock `place`."""
        async def unlock(session: Any) -> None:
            await session.stub.ReleasePlace(self._pb2.ReleasePlaceRequest(placename=place))
            await session.sync_with_coordinator()
        self._call(f"-p {place} release", unlock)

    def cancel(self, token: str) -> None:
        """Cancel a reservation (done or not)."""
        self._call("cancel-reservation", lambda session: session.stub.CancelReservation(
            self._pb2.CancelReservationRequest(token=token)))

    def reserve(self, tags: Mapping[str, str], *, timeout: float, on_wait: Callable[[float], None] | None = None,
                stop: threading.Event | None = None) -> str:
        """Queue a reservation for one place with `tags` and wait (at most `timeout` s, or until `stop`)
        until labgrid allocates it a place; its token. `on_wait(seconds)` at every poll while it waits;
        the polls keep the reservation alive in the queue (labgrid expires one nobody polls)."""
        what = f"tags {tags_text(tags)}"
        created = self._call("reserve", lambda session: session.stub.CreateReservation(
            self._pb2.CreateReservationRequest(filters={"main": self._pb2.Reservation.Filter(filter=dict(tags))},
                                               prio=0.0)))
        token = str(created.reservation.token)
        started = time.monotonic()
        try:
            while True:
                polled = self._call("reserve", lambda session: session.stub.PollReservation(
                    self._pb2.PollReservationRequest(token=token)))
                state = self._lg.Reservation.from_pb2(polled.reservation).state.name
                if state != "waiting":
                    if state not in ("allocated", "acquired"):
                        raise DeviceError(f"labgrid reservation for a place with {what} ended {state} "
                                          f"at {self.address}")
                    return token
                waited = time.monotonic() - started
                if stop is not None and stop.is_set():
                    raise DeviceError(f"stopped waiting for a place with {what}")
                if waited > timeout:
                    raise DeviceError(f"no place with {what} became free within {timeout:g} s at {self.address}",
                                      hint=f"they are in use (labgrid-client -x {self.address} who); "
                                           "wait longer with --farm-timeout")
                if on_wait is not None:
                    on_wait(waited)
                time.sleep(WAIT_POLL_S)
        except BaseException:
            try:
                self.cancel(token)
            except EdgekitError:
                pass   # the error that stopped the wait is the one to report
            raise


def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5.0)
    if not thread.is_alive():
        loop.close()


__all__ = ["CALL_TIMEOUT_S", "DEFAULT_COORDINATOR", "INSTALL_HINT", "LabgridClient", "PlaceInfo", "Resource",
           "labgrid_program", "tags_text"]
