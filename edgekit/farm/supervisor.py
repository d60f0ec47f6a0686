"""The virtual farm's process (`python -m edgekit.farm.supervisor STATE_DIR`, started by
edgekit.farm.virtual): a labgrid coordinator, N virtual boards, one labgrid exporter publishing
each board's console and flasher as a place, all on 127.0.0.1, stopped together on SIGTERM.

Each board's console is a pty this process owns for the farm's life (its path is what the exporter
hands to ser2net, and labgrid's RawSerialPort wants a fixed /dev path), relayed to the console pty of
the board's current QEMU: flashing restarts QEMU, whose pty changes, while the exported one stays.
Flashing is a PUT of the ELF to this process's loopback HTTP server (published as the place's
EdgekitVirtualBoard resource), so a client flashes a virtual place as it flashes a real one: through
the place.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import tty
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from edgekit.boards import Board, load_board
from edgekit.errors import EdgekitError
from edgekit.farm.client import LabgridClient, labgrid_program
from edgekit.farm.flash import VIRTUAL_CLASS
from edgekit.farm.virtual import EXPORTER_NAME, FarmConfig, FarmState, PlaceRecord
from edgekit.sim.qemu import VirtualBoard, _die_with_parent

LOOPBACK = "127.0.0.1"
IDLE_PAUSE_S = 2.0   # a board nobody talked to for this long is paused (SIGSTOP) until spoken to
# labgrid's exporter starts ser2net with `accepter: ...,tcp,PORT`, which binds every interface; this
# shim, first on the exporter's PATH, binds it to loopback.
SER2NET_SHIM = """#!/bin/bash
args=(); for a in "$@"; do args+=("${a/,tcp,/,tcp,127.0.0.1,}"); done
exec %s "${args[@]}"
"""


@dataclass
class BoardSlot:
    """One virtual board: its exported pty (fixed) and its current QEMU (replaced by each flash)."""

    name: str
    board: Board
    images: Path
    master: int = -1
    slave: int = -1
    exported: str = ""
    qemu: VirtualBoard | None = None
    qemu_fd: int = -1
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_io: float = 0.0        # monotonic time of the last byte from a client
    paused: bool = False

    def wake(self) -> None:
        """A client speaks: let QEMU run again (it reads what waited in its pty)."""
        self.last_io = time.monotonic()
        if self.paused and self.qemu is not None and self.qemu._proc is not None:
            self.paused = False
            os.kill(self.qemu._proc.pid, signal.SIGCONT)

    def doze(self) -> None:
        """An idle firmware polls its UART flat out, a core per board: stop QEMU while no client speaks
        (under -icount its virtual time stops too, so no count changes)."""
        if (not self.paused and self.qemu is not None and self.qemu.running and self.qemu._proc is not None
                and time.monotonic() - self.last_io > IDLE_PAUSE_S):
            self.paused = True
            os.kill(self.qemu._proc.pid, signal.SIGSTOP)

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
            qemu = VirtualBoard.for_board(self.board, path)
            qemu.start()
            assert qemu.pty is not None
            fd = os.open(qemu.pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            tty.setraw(fd)
            self.qemu, self.qemu_fd, self.paused, self.last_io = qemu, fd, False, time.monotonic()
            return self.status()

    def stop_qemu(self) -> None:
        """Stop the current QEMU, if any (its console is closed first, so the relay drops it)."""
        if self.qemu_fd >= 0:
            os.close(self.qemu_fd)
            self.qemu_fd = -1
        if self.qemu is not None:
            self.wake()   # a stopped process would not see SIGTERM before its grace runs out
            self.qemu.stop()
            self.qemu = None

    def status(self) -> dict[str, Any]:
        """What `farm status` shows of this board."""
        q = self.qemu
        pid = q._proc.pid if q is not None and q._proc is not None else None
        return {"name": self.name, "pty": self.exported, "running": bool(q and q.running), "qemu_pid": pid,
                "paused": self.paused, "argv": q.argv if q else None}


class Relay(threading.Thread):
    """Copies bytes between each board's exported pty and its QEMU's pty (one thread for all)."""

    def __init__(self, slots: list[BoardSlot]) -> None:
        super().__init__(name="farm-relay", daemon=True)
        self.slots = slots
        self.stopping = threading.Event()

    def run(self) -> None:
        """Poll every pty; a QEMU that died just stops answering (its client sees a dead board)."""
        while not self.stopping.is_set():
            sel = selectors.DefaultSelector()
            try:
                for slot in self.slots:
                    sel.register(slot.master, selectors.EVENT_READ, (slot, True))
                    fd = slot.qemu_fd
                    if fd >= 0:
                        try:
                            sel.register(fd, selectors.EVENT_READ, (slot, False))
                        except (OSError, ValueError):
                            pass   # closed by a flash meanwhile: the next round sees the new one
                for key, _ in sel.select(0.05):
                    slot, from_client = key.data
                    if from_client:
                        slot.wake()
                    self._move(slot, from_client, key.fd)
                for slot in self.slots:
                    with slot.lock:
                        slot.doze()
            finally:
                sel.close()

    @staticmethod
    def _move(slot: BoardSlot, from_client: bool, src: int) -> None:
        dst = slot.qemu_fd if from_client else slot.master
        try:
            data = os.read(src, 4096)
        except BlockingIOError:
            return
        except OSError:   # QEMU gone: its pty hangs up; forget it until the next flash
            if not from_client and slot.lock.acquire(blocking=False):   # else a flash is replacing it
                try:
                    if slot.qemu_fd == src:
                        os.close(src)
                        slot.qemu_fd = -1
                finally:
                    slot.lock.release()
            return
        if dst < 0 or not data:
            return   # no board running: what the client sends is lost, as on an unpowered board
        try:
            os.write(dst, data)
        except OSError:
            pass     # nobody reads the exported pty: drop, as a UART does


def _handler(slots: dict[str, BoardSlot]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply(200, [s.status() for s in slots.values()])

        def do_PUT(self) -> None:
            slot = slots.get(self.path.rstrip("/").rsplit("/", 1)[-1])
            if slot is None:
                self._reply(404, f"no virtual board at {self.path}")
                return
            image = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                self._reply(200, slot.flash(image))
            except EdgekitError as exc:
                self._reply(500, str(exc))

        def log_message(self, format: str, *args: Any) -> None:
            print(f"http: {format % args}", flush=True)

    return Handler


class Farm:
    """Everything the farm runs; stop() ends it all (also on a failed start)."""

    def __init__(self, config: FarmConfig, state_dir: Path) -> None:
        self.config, self.dir = config, state_dir
        board = load_board(config.board)
        images = state_dir / "images"
        images.mkdir(exist_ok=True)
        self.slots = [BoardSlot(f"{config.prefix}{i}", board, images) for i in range(config.boards)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.relay = Relay(self.slots)
        # One long-lived thread serves every request: QEMU is started with PR_SET_PDEATHSIG, which
        # fires when the *thread* that started it ends, so no thread per request.
        self.http = HTTPServer((LOOPBACK, 0), _handler({s.name: s for s in self.slots}))

    def _spawn(self, argv: list[str], log: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        # Own process group: stopping it also ends what it started (the exporter's ser2net).
        with open(self.dir / log, "ab") as out:
            proc = subprocess.Popen(argv, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True, env=env,
                                    preexec_fn=_die_with_parent)
        self.procs.append(proc)
        return proc

    def start(self) -> FarmState:
        """Start coordinator, boards, flasher and exporter; create the places; the state to record."""
        address = f"{LOOPBACK}:{self.config.port}"
        self._spawn([labgrid_program("labgrid-coordinator"), "--listen", address], "coordinator.log")
        for slot in self.slots:
            slot.open_pty()
            if self.config.elf:
                slot.flash(Path(self.config.elf).read_bytes())
        self.relay.start()
        threading.Thread(target=self.http.serve_forever, name="farm-http", daemon=True).start()
        url = f"http://{LOOPBACK}:{self.http.server_address[1]}/boards"
        exports = {s.name: {"RawSerialPort": {"port": s.exported, "speed": s.board.baud},
                            VIRTUAL_CLASS: {"url": f"{url}/{s.name}", "board": s.board.id}} for s in self.slots}
        (self.dir / "exporter.yaml").write_text(json.dumps(exports, indent=2))   # JSON is YAML
        self._start_exporter(address)
        client = LabgridClient(address)
        self._wait_for(client)
        for slot in self.slots:
            client.run("-p", slot.name, "create")
            client.run("-p", slot.name, "add-match", f"{EXPORTER_NAME}/{slot.name}/*")
            client.run("-p", slot.name, "set-tags", f"board={slot.board.id}", "farm=virtual", f"name={slot.name}")
        return FarmState(os.getpid(), address, url, str(self.dir),
                         [PlaceRecord(s.name, s.board.id, s.exported) for s in self.slots])

    def _start_exporter(self, address: str) -> None:
        shim_dir = self.dir / "bin"
        shim_dir.mkdir(exist_ok=True)
        real = next((p for p in ("/usr/sbin/ser2net", "/usr/bin/ser2net") if os.path.exists(p)), None)
        if real is None:
            raise EdgekitError("ser2net not found (the exporter serves each board's console through it)",
                               hint="install it: sudo apt-get install -y ser2net")
        shim = shim_dir / "ser2net"
        shim.write_text(SER2NET_SHIM % real)
        shim.chmod(0o755)
        env = {**os.environ, "PATH": f"{shim_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        self._spawn([labgrid_program("labgrid-exporter"), "-c", address, "--hostname", LOOPBACK,
                     "-n", EXPORTER_NAME, "exporter.yaml"], "exporter.log", env)

    def _wait_for(self, client: LabgridClient, timeout: float = 30.0) -> None:
        """Until the exporter published every board's resources to the coordinator."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                listed = client.run("resources")
                if all(f"{EXPORTER_NAME}/{s.name}/" in listed for s in self.slots):
                    return
            except EdgekitError:
                pass
            for proc in self.procs:
                if proc.poll() is not None:
                    name = Path(str(proc.args[0] if isinstance(proc.args, list) else proc.args)).name
                    raise EdgekitError(f"{name} exited with code {proc.returncode}",
                                       hint=f"see the logs in {self.dir}")
            if time.monotonic() > deadline:
                raise EdgekitError(f"the exporter did not publish the boards within {timeout:g} s",
                                   hint=f"see {self.dir / 'exporter.log'}")
            time.sleep(0.3)

    def stop(self) -> None:
        """Exporter (and its ser2net), coordinator, boards, relay, HTTP: all of them, whatever fails."""
        for proc in reversed(self.procs):
            _kill_group(proc)
        for slot in self.slots:
            slot.stop_qemu()
        self.relay.stopping.set()
        self.http.shutdown()


def _kill_group(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()
    try:   # what the exporter started and left behind (ser2net) is in its group too
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main(state_dir: str) -> int:
    """Run the farm described by STATE_DIR/config.json until SIGTERM; write STATE_DIR/farm.json once
    it is up, or STATE_DIR/failed.txt with one line saying why it could not start."""
    directory = Path(state_dir)
    config = FarmConfig.read(directory)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    farm = Farm(config, directory)
    try:
        state = farm.start()
        state.write(directory)
        print(f"farm up: {len(farm.slots)} boards, coordinator {state.coordinator}", flush=True)
        while not stop.wait(0.5):
            pass
        return 0
    except EdgekitError as exc:
        (directory / "failed.txt").write_text(f"{exc}\n")
        return 1
    finally:
        farm.stop()
        print("farm down", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
