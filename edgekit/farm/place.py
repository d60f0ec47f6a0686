"""Places of a labgrid farm: found by name or by tags, locked for this run (waiting in labgrid's
reservation queue, with progress), reached through their serial port, and always released.

    target = FarmTarget("127.0.0.1:20408", tags={"board": "qemu-netduinoplus2"})
    with acquired(target, count=3) as places:
        urls = [p.serial_url for p in places]
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from edgekit.errors import DeviceError, EdgekitError, UsageError
from edgekit.farm.client import DEFAULT_COORDINATOR, LabgridClient, Resource, tags_text

DEFAULT_WAIT_S = 300.0     # for a free place in the queue
SERIAL_CLASSES = ("NetworkSerialPort",)
_PORT_WAIT_S = 5.0         # the exporter starts ser2net when the place is acquired
OnWait = Callable[[str], None]   # a progress line while waiting for a place


@dataclass(frozen=True)
class FarmTarget:
    """Where a run's boards come from: a coordinator, and a place name or tags to match."""

    coordinator: str = DEFAULT_COORDINATOR
    place: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_WAIT_S

    @property
    def what(self) -> str:
        """The place or tags asked for, as a user wrote them."""
        return f"place {self.place}" if self.place else f"tags {tags_text(self.tags)}"


@dataclass
class Place:
    """A place this process holds: its name, its reservation, and its resources."""

    name: str
    token: str | None
    resources: list[Resource]
    client: LabgridClient
    released: bool = False

    def find(self, *classes: str) -> Resource | None:
        """The first resource of one of `classes`, or None."""
        return next((r for r in self.resources if r.cls in classes), None)

    @property
    def serial_url(self) -> str:
        """pyserial URL of the board's console: RFC2217 through the exporter's ser2net. A pty or USB
        port behind ser2net has no modem lines to set, hence ign_set_control (labgrid's pyserial)."""
        port = self.find(*SERIAL_CLASSES)
        if port is None:
            raise UsageError(f"place {self.name} has no serial port", hint="export a USBSerialPort or RawSerialPort "
                             "in its exporter and add it to the place (labgrid-client add-match)")
        params = port.params
        scheme = "socket" if params.get("protocol") == "raw" else "rfc2217"
        suffix = "" if scheme == "socket" else "?ign_set_control"
        return f"{scheme}://{params['host']}:{params['port']}{suffix}"

    def release(self) -> None:
        """Unlock the place and end its reservation; safe to call twice."""
        if self.released:
            return
        self.released = True
        self.client.release(self.name)
        if self.token:
            self.client.cancel(self.token)


def _wait_progress(on_wait: OnWait | None, what: str) -> Callable[[float], None]:
    last = [0.0]

    def tick(waited: float) -> None:
        if on_wait is not None and waited - last[0] >= 2.0:   # a line every 2 s, not every poll
            last[0] = waited
            on_wait(f"waiting for a free place with {what} ({waited:.0f} s)")
    return tick


def _resources(client: LabgridClient, name: str) -> list[Resource]:
    deadline = time.monotonic() + _PORT_WAIT_S
    while True:
        found = client.resources(name)
        ports = [r for r in found if r.cls in SERIAL_CLASSES]
        if all(r.params.get("port") for r in ports) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _acquire_named(client: LabgridClient, target: FarmTarget, on_wait: OnWait | None,
                   stop: threading.Event | None) -> Place:
    assert target.place is not None
    started, tick = time.monotonic(), _wait_progress(on_wait, f"name {target.place}")
    while True:
        if stop is not None and stop.is_set():
            raise DeviceError(f"stopped waiting for place {target.place}")
        info = next((p for p in client.places() if p.name == target.place), None)
        if info is None:
            client.acquire(target.place)   # raises labgrid's own "matches nothing" (UsageError with the places)
        elif info.acquired is None:
            try:
                name = client.acquire(target.place)
                return Place(name, None, _resources(client, name), client)
            except DeviceError:
                pass   # taken between the look and the lock: wait as for a held place
        waited = time.monotonic() - started
        if waited > target.timeout:
            holder = f" (held by {info.acquired})" if info and info.acquired else ""
            raise DeviceError(f"place {target.place} at {client.address} was not free within "
                              f"{target.timeout:g} s{holder}", hint="wait longer with --farm-timeout")
        tick(waited)
        time.sleep(0.5)


def _acquire_tagged(client: LabgridClient, target: FarmTarget, on_wait: OnWait | None,
                    stop: threading.Event | None) -> Place:
    token = client.reserve(target.tags, timeout=target.timeout, stop=stop,
                           on_wait=_wait_progress(on_wait, f"tags {tags_text(target.tags)}"))
    try:
        name = client.acquire(f"+{token}")
        return Place(name, token, _resources(client, name), client)
    except BaseException:
        _quietly(client.cancel, token)
        raise


def check_target(client: LabgridClient, target: FarmTarget, count: int) -> None:
    """UsageError when no place (or fewer than `count`) could ever match `target`: better than waiting."""
    if target.place is not None:
        if count > 1:
            raise UsageError(f"--boards {count} needs tags, not one place name", hint="pass --tags KEY=VALUE")
        return
    if not target.tags:
        raise UsageError("a farm run needs a place or tags to choose boards by",
                         hint="pass --place NAME or --tags board=ID")
    places = client.places()
    matching = [p for p in places if p.matches(target.tags)]
    if len(matching) < count:
        listed = "; ".join(f"{p.name} ({tags_text(p.tags) or 'no tags'})" for p in places) or "none"
        has = "no place has" if not matching else f"only {len(matching)} place(s) have"
        raise UsageError(f"{has} tags {tags_text(target.tags)} at {client.address} ({count} needed)",
                         hint=f"places there: {listed}")


def acquire_one(client: LabgridClient, target: FarmTarget, on_wait: OnWait | None = None,
                stop: threading.Event | None = None) -> Place:
    """Lock one place matching `target` (waiting in the queue at most target.timeout, or until `stop`)."""
    if target.place is not None:
        return _acquire_named(client, target, on_wait, stop)
    return _acquire_tagged(client, target, on_wait, stop)


@contextmanager
def acquired(target: FarmTarget, count: int = 1, *, on_wait: OnWait | None = None) -> Iterator[list[Place]]:
    """Lock `count` places matching `target` for the block; every one is released when it ends,
    however it ends (error, Ctrl-C). A place released inside the block is not released twice."""
    client = LabgridClient(target.coordinator)
    places: list[Place] = []
    try:
        check_target(client, target, count)
        if count == 1:
            places.append(acquire_one(client, target, on_wait))
        else:   # one reservation per place, queued together
            stop = threading.Event()
            with ThreadPoolExecutor(count, thread_name_prefix="acquire") as pool:
                futures = [pool.submit(acquire_one, client, target, on_wait if i == 0 else None, stop)
                           for i in range(count)]
                try:
                    for future in futures:
                        places.append(future.result())
                finally:   # Ctrl-C or a failure: the others stop waiting; every place locked is released
                    stop.set()
                    places[:] = [f.result() for f in futures if not f.cancel() and f.exception() is None]
        yield places
    finally:
        release_all(places)
        client.close()


def release_all(places: list[Place]) -> None:
    """Release every place (together); a failure to release one is said on stderr and does not stop
    the others (nor hide the error that ended the run)."""
    with ThreadPoolExecutor(max(1, len(places)), thread_name_prefix="release") as pool:
        for place in places:
            pool.submit(_quietly, place.release)


def _quietly(fn: Callable[..., None], *args: str) -> None:
    try:
        fn(*args)
    except (EdgekitError, OSError) as exc:
        print(f"warning: {exc}", file=sys.stderr)


__all__ = ["DEFAULT_WAIT_S", "FarmTarget", "OnWait", "Place", "acquire_one", "acquired", "check_target",
           "release_all"]
