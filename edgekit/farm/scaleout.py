"""`edgekit hil --place NAME | --farm HOST:PORT --tags K=V [--boards N]`: one validation spread over
N labgrid places flashed with the same firmware, merged into the report one board would give.

Up to N places are reserved at once; each one, as soon as it is locked, gets a thread that flashes
it and connects (while the host reference is computed), then takes the test inputs a few at a time
from one shared pool, so faster boards take more. A board that fails (link lost, no answer) is
released at once and the inputs it had taken but not measured go back to the pool for the
others; what it measured stays. The merged report orders every measured output by test-input
index, so its predictions, agreement and metric equal a single board's; report.json's "farm"
says which place ran which inputs, each board's latency, and what happened.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from edgekit.console import err
from edgekit.errors import DeviceError, EdgekitError, UsageError
from edgekit.farm.client import LabgridClient
from edgekit.farm.flash import flash_place
from edgekit.farm.place import FarmTarget, OnWait, Place, acquire_one, check_target, release_all
from edgekit.farm.record import BoardRun, FarmRecord
from edgekit.hil.evaluate import LinkStats, latency
from edgekit.hil.harness import PARTIAL_EVERY, HilOptions, HilResult, HilRun, connect_checked, prepare_run
from edgekit.hil.protocol import DeviceInfo
from edgekit.hil.report import DeviceRecord
from edgekit.hil.session import Session
from edgekit.project.manifest import Project
from edgekit.runners import Executor

CHUNK, MAX_CHUNK = 4, 64   # inputs a board takes at a time: balances boards, bounds what a dead board held
_BENCH_SOURCE = "BENCH: the last input, back to back, after warm-up, on every board"
_STOP_JOIN_S = 15.0  # a board finishing its current request after Ctrl-C (bounded by the session's retries)


@dataclass(frozen=True)
class FarmRun:
    """Which boards: where (target) and how many, and whether to flash them first."""

    target: FarmTarget
    boards: int = 1
    flash: bool = True


class _Pool:
    """The test inputs not measured yet. A board takes a few, marks each one done, and gives back
    what it could not measure; boards wait while others still hold inputs that may come back."""

    def __init__(self, n: int) -> None:
        self._todo: deque[int] = deque(range(n))
        self._held = 0
        self._cond = threading.Condition()

    def take(self, boards: int, stop: threading.Event) -> list[int]:
        """A share of what is left (guided: big while much is left, CHUNK at the end, so each board
        runs long stretches and all finish together); [] once none is left anywhere (or on stop)."""
        with self._cond:
            while not self._todo and self._held and not stop.is_set():
                self._cond.wait(0.1)
            if stop.is_set():
                return []
            k = max(CHUNK, min(MAX_CHUNK, len(self._todo) // (4 * boards)))
            chunk = [self._todo.popleft() for _ in range(min(k, len(self._todo)))]
            self._held += len(chunk)
            return chunk

    def done(self, n: int = 1) -> None:
        """`n` taken inputs were measured."""
        with self._cond:
            self._held -= n
            self._cond.notify_all()

    def finished(self) -> bool:
        """Every input measured."""
        with self._cond:
            return not self._todo and not self._held

    def give_back(self, chunk: list[int]) -> None:
        """Taken inputs a board did not measure: first in line for the others."""
        with self._cond:
            self._todo.extendleft(reversed(chunk))
            self._held -= len(chunk)
            self._cond.notify_all()


class _Shared:
    """What the boards' threads fill in once the run is prepared, under one lock."""

    def __init__(self, run: HilRun) -> None:
        self.run = run
        self.pool = _Pool(len(run.blocks))
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.outputs: dict[int, tuple[list[np.ndarray], int]] = {}
        self.bench: list[int] = []
        self.bytes = [0, 0]
        self.resends = 0
        self.first_sent: float | None = None   # when the first test input went out
        self.last_back = 0.0                     # and the last output came back

    def sync(self) -> None:
        """Give the run every output measured so far, in test-input order."""
        with self.lock:
            order = sorted(self.outputs)
            self.run.order = order
            self.run.device_q = [self.outputs[i][0] for i in order]
            self.run.cycles = [self.outputs[i][1] for i in order]


def _measure(session: Session, board: BoardRun, shared: _Shared, info: DeviceInfo, boards: int,
             chunk: list[int]) -> None:
    """Measure inputs from the pool until none is left (`chunk`: what this board holds), then BENCH."""
    run, opts = shared.run, shared.run.opts
    with shared.lock:
        if run.report.device is None:
            run.report.device = DeviceRecord.from_info(info)
            run.report.cycles_hz = info.cycles_hz
    while taken := shared.pool.take(boards, shared.stop):
        chunk[:] = taken
        while chunk and not shared.stop.is_set():
            sent = time.monotonic()
            outs, n = run.infer(session, chunk[0])
            with shared.lock:
                shared.outputs[chunk[0]] = (outs, n)
                board.samples.append(chunk.pop(0))
                shared.first_sent = min(shared.first_sent or sent, sent)
                shared.last_back = time.monotonic()
            shared.pool.done()
        if chunk:   # stopped: not measured, not lost
            shared.pool.give_back(chunk)
            chunk.clear()
    if opts.bench_runs > 0 and not shared.stop.is_set():
        run.infer(session, len(run.blocks) - 1)   # BENCH times the staged input: the last one, as on one board
        counts = session.bench(opts.warmup, opts.bench_runs)
        board.latency = replace(latency(counts, info.cycles_hz or 1), warmup=opts.warmup, source=_BENCH_SOURCE)
        with shared.lock:
            shared.bench.extend(counts)


def _board(place: Place, board: BoardRun, fleet: _Fleet, finished: threading.Event) -> None:
    """One place's thread: flash and connect (while the host reference may still be computed), measure
    inputs from the pool, BENCH; on failure release the place. `finished` is set once everything it
    measured is recorded, before its port is closed (pyserial's RFC2217 client sleeps 0.3 s closing
    one: the run's release and report go on meanwhile)."""
    project, opts = fleet.project, fleet.opts
    session: Session | None = None
    shared: _Shared | None = None
    chunk: list[int] = []
    try:
        if fleet.farm.flash:
            board.flashed = flash_place(place, project, fleet.executor)
        session = Session(board.port, baudrate=opts.baud or project.board.baud)
        info = connect_checked(session, project)
        shared = fleet.prepared()
        if shared is not None:   # else the run ended before it was prepared
            _measure(session, board, shared, info, fleet.farm.boards, chunk)
        board.status = "complete"
    except EdgekitError as exc:
        if shared is not None:
            shared.pool.give_back(chunk)
        board.status, board.error = "failed", str(exc)
        moved = f"; its {len(chunk)} unfinished samples went back to the other boards" if chunk else ""
        fleet.event(f"{place.name} failed after {len(board.samples)} samples: {exc.message}{moved}; released")
        try:
            place.release()   # now, so another job can have it (or someone can look at it)
        except EdgekitError as rel:
            fleet.event(f"{place.name} could not be released: {rel.message}")
    finally:
        if shared is not None and session is not None and session.link is not None:
            with shared.lock:
                shared.bytes[0] += session.link.bytes_out
                shared.bytes[1] += session.link.bytes_in
                shared.resends += session.resends
        finished.set()
        fleet.changed.set()
        if session is not None:
            session.close()


class _Fleet:
    """The run's places: up to N acquired in parallel, each waiting in labgrid's queue, and each flashed
    and connected as soon as it is locked; they measure once the run is prepared (`start`). A run
    never waits for all of its places before it starts: two runs, each holding some places while
    waiting for more, would wait for each other until they time out (a labgrid reservation is for one
    place). Places that come after the work is done are released."""

    def __init__(self, project: Project, opts: HilOptions, farm: FarmRun, executor: Executor,
                 on_wait: OnWait | None) -> None:
        self.project, self.opts, self.farm, self.executor = project, opts, farm, executor
        self.record = FarmRecord(farm.target.coordinator, farm.target.what)
        self.client = LabgridClient(farm.target.coordinator)
        try:
            check_target(self.client, farm.target, farm.boards)
        except BaseException:
            self.client.close()
            raise
        self.shared: _Shared | None = None
        self.places: list[Place] = []
        self.workers: list[tuple[threading.Thread, threading.Event]] = []
        self.errors: list[EdgekitError] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()     # the run is prepared (or given up: shared stays None)
        self.enough = threading.Event()    # stop waiting for more places
        self.changed = threading.Event()   # a board finished: the run may be over
        self.started: float | None = None
        self.acquirers = [threading.Thread(target=self._acquire, args=(on_wait if i == 0 else None,),
                                           name=f"farm-acquire-{i}", daemon=True) for i in range(farm.boards)]
        for t in self.acquirers:
            t.start()

    def start(self, shared: _Shared) -> None:
        """The run is prepared: the boards connected so far start measuring, later ones when connected."""
        self.shared = shared
        self.ready.set()

    def prepared(self) -> _Shared | None:
        """The prepared run (waiting for it); None when the run ended before."""
        self.ready.wait()
        return self.shared

    def event(self, text: str) -> None:
        """Something the report must tell (a board failed, its samples moved, ...)."""
        with self.lock:
            self.record.events.append(text)

    def _acquire(self, on_wait: OnWait | None) -> None:
        try:
            place = acquire_one(self.client, self.farm.target, on_wait, self.enough)
        except EdgekitError as exc:
            with self.lock:
                self.errors.append(exc)
            return
        with self.lock:
            self.places.append(place)
            if self.enough.is_set() or (self.shared is not None and self.shared.pool.finished()):
                return   # too late to help: released with the others
            try:
                board = BoardRun(place.name, place.serial_url)
            except EdgekitError as exc:
                self.errors.append(exc)
                return
            self.record.boards.append(board)
            finished = threading.Event()
            worker = threading.Thread(target=_board, args=(place, board, self, finished),
                                      name=f"farm-{place.name}", daemon=True)
            self.workers.append((worker, finished))
            self.started = self.started or time.monotonic()
            worker.start()

    def busy(self) -> bool:
        """Boards still at work, or places still awaited while inputs are left."""
        assert self.shared is not None
        with self.lock:
            waiting = [] if self.shared.pool.finished() else self.acquirers
            return any(not done.is_set() for _, done in self.workers) or any(t.is_alive() for t in waiting)

    def join(self, timeout: float) -> None:
        """Wait (bounded) for the boards' threads."""
        with self.lock:
            workers = [w for w, _ in self.workers]
        for t in workers:
            t.join(timeout)

    def close(self) -> None:
        """Stop waiting for places, and release every place locked."""
        self.enough.set()
        self.ready.set()   # boards still waiting for a run that will not come give up
        for t in self.acquirers:
            t.join(_STOP_JOIN_S)
        with self.lock:
            places = list(self.places)
        release_all(places)
        self.client.close()


def _wait(fleet: _Fleet, shared: _Shared, on_progress: Callable[[int, int], None] | None) -> None:
    total, written = len(shared.run.blocks), 0
    while fleet.busy():
        fleet.changed.wait(0.15)
        fleet.changed.clear()
        done = len(shared.outputs)
        if on_progress is not None and fleet.started is not None:
            on_progress(done, total)
        if done // PARTIAL_EVERY > written // PARTIAL_EVERY:
            written = done
            shared.sync()
            shared.run.finish("running", None)


def run_hil_farm(project: Project, farm: FarmRun, *, options: HilOptions | None = None,
                 on_progress: Callable[[int, int], None] | None = None, on_wait: OnWait | None = None,
                 executor: Executor | None = None) -> HilResult:
    """Validate the project on `farm.boards` places of the farm; see the module docstring. Every place
    is released however the run ends; DeviceError (after the partial report is written) when inputs
    are left unmeasured because every board failed."""
    opts = options or HilOptions()
    if opts.profile:
        raise UsageError("--profile runs on one board", hint="run it without --place/--farm, or with --port")
    project.check_build()   # before any board is flashed with it
    # Places are reserved, flashed and connected while the host reference is computed.
    fleet = _Fleet(project, opts, farm, executor or Executor(echo=lambda line: err.print(line, highlight=False)),
                   on_wait)
    try:
        return _run(fleet, on_progress)
    finally:
        fleet.join(_STOP_JOIN_S)   # the boards' ports close (pyserial sleeps in that) while the report is written


def _run(fleet: _Fleet, on_progress: Callable[[int, int], None] | None) -> HilResult:
    record, shared = fleet.record, None
    try:
        run = prepare_run(fleet.project, fleet.opts)
        run.report.farm = record
        shared = _Shared(run)
        fleet.start(shared)
        _wait(fleet, shared, on_progress)
    except KeyboardInterrupt:
        if shared is not None:
            shared.stop.set()
            fleet.join(_STOP_JOIN_S)
            shared.sync()
            run.finish("failed", f"interrupted after {len(shared.outputs)} of {len(run.blocks)} samples")
        raise
    finally:
        fleet.close()
    # as on one board: from the first test input to the last output (every board's flash and
    # connect after the first one's inside it)
    elapsed = shared.last_back - shared.first_sent if shared.first_sent is not None else 0.0
    if not record.boards and fleet.errors:
        raise fleet.errors[0]   # no place at all (timeout, coordinator gone): nothing was measured
    run.report.port = ", ".join(b.port for b in record.boards)
    shared.sync()
    n = len(shared.outputs)
    run.bench = shared.bench
    run.report.link = LinkStats(shared.bytes[0], shared.bytes[1], elapsed, baud=None,
                                inferences_per_second=n / elapsed if elapsed else None, resends=shared.resends)
    if n < len(run.blocks):
        failed = [b for b in record.boards if b.status == "failed"]
        why = failed[0].error if failed else (str(fleet.errors[0]) if fleet.errors else "stopped")
        where = f"after {n} of {len(run.blocks)} samples: every board of the farm failed (first: {why})"
        result = run.finish("failed", where)
        raise DeviceError(where, hint=f"the {n} samples measured are in {result.paths[0]}")
    return run.finish("complete", None)


__all__ = ["CHUNK", "FarmRun", "run_hil_farm"]
