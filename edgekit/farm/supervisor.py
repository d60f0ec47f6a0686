"""The virtual farm's process (`python -m edgekit.farm.supervisor STATE_DIR`, started by
edgekit.farm.virtual): a labgrid coordinator, N virtual boards, one labgrid exporter publishing
each board's console and flasher as a place, all on 127.0.0.1, stopped together on SIGTERM.

Each board's console is a pty this process owns for the farm's life (its fixed path is what ser2net
serves, in either serial mode), relayed to the console of the board's current QEMU: flashing restarts
QEMU, whose console changes, while the exported one stays.
Flashing is a PUT of the ELF to this process's loopback HTTP server (published as the place's
EdgekitVirtualBoard resource), so a client flashes a virtual place as it flashes a real one: through
the place.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from edgekit.boards import load_board
from edgekit.errors import EdgekitError
from edgekit.farm.client import LabgridClient, labgrid_program
from edgekit.farm.flash import VIRTUAL_CLASS
from edgekit.farm.relay import BoardSlot, Relay
from edgekit.farm.virtual import EXPORTER_NAME, FarmConfig, FarmState, PlaceRecord, find_ser2net, free_port
from edgekit.sim.qemu import _die_with_parent

LOOPBACK = "127.0.0.1"
# Every console's ser2net (either serial mode, edgekit.farm.virtual.SERIAL_MODES) binds loopback only,
# sets TCP_NODELAY (else a reply's first byte leaves alone and the rest waits for a delayed ACK) and
# turns off chardelay (which holds what the board sends for 2 characters' time, at least 1 ms, after
# each character, to batch network packets): together they were most of a stop-and-wait round trip.
SER2NET_CONNECTION = """connection: &{name}
  accepter: telnet(rfc2217,mode=server),tcp(nodelay),127.0.0.1,{port}
  connector: serialdev(nouucplock=true),{path},{baud}n81,local
  options:
    max-connections: 10
    chardelay: false
"""
# In exporter mode, labgrid's exporter starts ser2net with `accepter: ...,tcp,PORT` (every interface)
# and chardelay on: this shim, first on the exporter's PATH, makes it the above. ser2net takes about a
# second to leave on SIGTERM, and the exporter waits for it on every release: the shim ends it at once.
SER2NET_SHIM = """#!/bin/bash
args=(); for a in "$@"; do args+=("${a/,tcp,/,tcp(nodelay),127.0.0.1,}"); done
case " $* " in *" -Y "*) args+=(-Y "    chardelay: false");; esac
case " $* " in *" -v "*) exec %s "${args[@]}";; esac
%s "${args[@]}" & child=$!
trap 'kill -KILL $child 2>/dev/null; exit 0' TERM INT
wait $child
"""


def _handler(slots: dict[str, BoardSlot], flashers: dict[str, ThreadPoolExecutor]) -> type[BaseHTTPRequestHandler]:
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
                self._reply(200, flashers[slot.name].submit(slot.flash, image).result())
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
        # The boards' console sockets: a short path (a Unix socket's is at most 107 bytes), private.
        self.sockets = Path(tempfile.mkdtemp(prefix="edgekit-farm-"))
        self.slots = [BoardSlot(f"{config.prefix}{i}", board, images, self.sockets) for i in range(config.boards)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.serving = False
        self.relay = Relay(self.slots, config.baud if config.baud is not None else board.baud)
        # Boards are flashed in parallel, each by a thread of its own that lives as long as the farm:
        # QEMU is started with PR_SET_PDEATHSIG, which fires when the *thread* that started it ends,
        # so not by the HTTP server's thread per request.
        self.flashers = {s.name: ThreadPoolExecutor(1, thread_name_prefix=f"flash-{s.name}") for s in self.slots}
        self.http = ThreadingHTTPServer((LOOPBACK, 0), _handler({s.name: s for s in self.slots}, self.flashers))

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
        client = LabgridClient(address)
        # The exporter gives up (exit 100) on a coordinator that is not listening yet.
        self._wait_for(client, "places", lambda listed: True, "the coordinator to answer")
        for slot in self.slots:
            slot.open_pty()
            if self.config.elf:
                slot.flash(Path(self.config.elf).read_bytes())
        self.relay.start()
        self.serving = True
        threading.Thread(target=self.http.serve_forever, name="farm-http", daemon=True).start()
        url = f"http://{LOOPBACK}:{self.http.server_address[1]}/boards"
        serial = (self._console_server() if self.config.serial == "console-server"
                  else {s.name: {"RawSerialPort": {"port": s.exported, "speed": s.board.baud}} for s in self.slots})
        exports = {s.name: {**serial[s.name], VIRTUAL_CLASS: {"url": f"{url}/{s.name}", "board": s.board.id}}
                   for s in self.slots}
        (self.dir / "exporter.yaml").write_text(json.dumps(exports, indent=2))   # JSON is YAML
        self._start_exporter(address)
        self._wait_for(client, "resources",
                       lambda listed: all(f"{EXPORTER_NAME}/{s.name}/" in listed for s in self.slots),
                       "the exporter to publish every board")
        for slot in self.slots:
            client.run("-p", slot.name, "create")
            client.run("-p", slot.name, "add-match", f"{EXPORTER_NAME}/{slot.name}/*")
            client.run("-p", slot.name, "set-tags", f"board={slot.board.id}", "farm=virtual", f"name={slot.name}")
        return FarmState(os.getpid(), address, url, str(self.dir),
                         [PlaceRecord(s.name, s.board.id, s.exported) for s in self.slots])

    def _console_server(self) -> dict[str, dict[str, Any]]:
        """One ser2net serving every board's console from now on; each as a NetworkSerialPort resource."""
        ports = {slot.name: free_port() for slot in self.slots}
        (self.dir / "ser2net.yaml").write_text("".join(
            SER2NET_CONNECTION.format(name=s.name, port=ports[s.name], path=s.exported, baud=s.board.baud)
            for s in self.slots))
        self._spawn([find_ser2net(), "-n", "-d", "-c", str(self.dir / "ser2net.yaml")], "ser2net.log")
        for name, port in ports.items():
            _wait_listening(port, f"ser2net to serve {name}'s console on {LOOPBACK}:{port}", self.dir)
        return {s.name: {"NetworkSerialPort": {"host": LOOPBACK, "port": ports[s.name], "speed": s.board.baud,
                                               "protocol": "rfc2217"}} for s in self.slots}

    def _start_exporter(self, address: str) -> None:
        shim_dir = self.dir / "bin"
        shim_dir.mkdir(exist_ok=True)
        real = find_ser2net()
        shim = shim_dir / "ser2net"
        shim.write_text(SER2NET_SHIM % (real, real))
        shim.chmod(0o755)
        env = {**os.environ, "PATH": f"{shim_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        self._spawn([labgrid_program("labgrid-exporter"), "-c", address, "--hostname", LOOPBACK,
                     "-n", EXPORTER_NAME, "exporter.yaml"], "exporter.log", env)

    def _wait_for(self, client: LabgridClient, command: str, ready: Callable[[str], bool], what: str,
                  timeout: float = 30.0) -> None:
        """Until `labgrid-client COMMAND`'s output is `ready`; EdgekitError when a process exits first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ready(client.run(command)):
                    return
            except EdgekitError:
                pass
            for proc in self.procs:
                if proc.poll() is not None:
                    name = Path(str(proc.args[0] if isinstance(proc.args, list) else proc.args)).name
                    raise EdgekitError(f"{name} exited with code {proc.returncode}",
                                       hint=f"see the logs in {self.dir}")
            if time.monotonic() > deadline:
                raise EdgekitError(f"timed out after {timeout:g} s waiting for {what}",
                                   hint=f"see the logs in {self.dir}")
            time.sleep(0.3)

    def stop(self) -> None:
        """Exporter (and its ser2net), coordinator, boards, relay, HTTP: all of them, whatever fails."""
        for proc in reversed(self.procs):
            _kill_group(proc)
        for slot in self.slots:
            slot.stop_qemu()
        self.relay.stopping.set()
        if self.serving:   # shutdown() waits for serve_forever, forever if it never ran
            self.http.shutdown()
        self.http.server_close()
        for flasher in self.flashers.values():
            flasher.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.sockets, ignore_errors=True)


def _wait_listening(port: int, what: str, logs: Path, timeout: float = 10.0) -> None:
    """Until something listens on `port` (a probe connection would open the console: /proc is read)."""
    deadline = time.monotonic() + timeout
    while not listening_addresses(port):
        if time.monotonic() > deadline:
            raise EdgekitError(f"timed out after {timeout:g} s waiting for {what}", hint=f"see the logs in {logs}")
        time.sleep(0.05)


def listening_addresses(port: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp{,6} write them) of the sockets listening on TCP `port`."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, _, hexport = local.rpartition(":")
                if state == "0A" and int(hexport, 16) == port:
                    found.append(address)
    return found


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
