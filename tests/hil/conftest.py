"""Fixtures for the HIL tests: the host-port firmware built with the real gcc and run as
a process serving the protocol on a pseudo-terminal."""

from __future__ import annotations

import select
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.firmware_sources import host_firmware_sources

REPO = Path(__file__).resolve().parents[2]
COMMON = REPO / "firmware_templates" / "common"
HOST = REPO / "firmware_templates" / "host"
FAKE_MODEL = REPO / "tests" / "fixtures" / "fake_model"
WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]


def build_host_firmware(out: Path, defines: tuple[str, ...] = (), cc: str = "gcc") -> Path:
    """Compile the portable core + host port + fake model into one executable."""
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed: cannot build the host-port firmware")
    exe = out / "ek_host_fw"
    srcs = [*host_firmware_sources(), FAKE_MODEL / "edgekit_model.c"]
    # A test process can be descheduled for tens of ms on a busy CI machine (a board is
    # not): let streams catch up on such stalls instead of skipping samples.
    defines = ("EK_APP_STREAM_MAX_LAG_MS=1000", *defines)
    cmd = [cc, *WARN, "-O2", *(f"-D{d}" for d in defines), f"-I{COMMON}", f"-I{HOST}",
           f"-I{FAKE_MODEL}", *map(str, srcs), "-lm", "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"host firmware build failed:\n{' '.join(cmd)}\n{r.stderr}"
    return exe


_BUILT: dict[tuple[str, ...], Path] = {}


@pytest.fixture(scope="session")
def host_firmware(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """host_firmware(*defines) -> path of the built executable (built once per defines)."""

    def get(*defines: str) -> Path:
        key = tuple(defines)
        if key not in _BUILT:
            _BUILT[key] = build_host_firmware(tmp_path_factory.mktemp("hostfw"), key)
        return _BUILT[key]

    return get


@dataclass
class Device:
    """A running host-port firmware process."""

    proc: subprocess.Popen
    path: str

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)


def start_device(exe: Path, *args: str) -> Device:
    """Start the firmware and read the pty path it prints (bounded wait)."""
    proc = subprocess.Popen([str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    r, _, _ = select.select([proc.stdout], [], [], 5)
    if not r:
        proc.kill()
        pytest.fail(f"{exe} printed no pty path within 5 s")
    path = proc.stdout.readline().decode().strip()
    assert path.startswith("/dev/"), f"unexpected first line from the firmware: {path!r}"
    return Device(proc, path)


@pytest.fixture
def device_factory(host_firmware: Callable[..., Path]) -> Iterator[Callable[..., Device]]:
    """device_factory(*args, defines=()) -> a started Device; all are killed at teardown."""
    started: list[Device] = []

    def make(*args: str, defines: tuple[str, ...] = ()) -> Device:
        dev = start_device(host_firmware(*defines), *args)
        started.append(dev)
        return dev

    yield make
    for dev in started:
        dev.kill()


@pytest.fixture
def device(device_factory: Callable[..., Device]) -> Device:
    """The default fake-model firmware, running."""
    return device_factory()

