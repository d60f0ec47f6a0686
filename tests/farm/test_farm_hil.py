"""hil on a labgrid farm of virtual boards: one place, three merged, two runs at once, a board
killed mid-run, Ctrl-C; every place released afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgekit.farm.client import LabgridClient
from edgekit.farm.place import SERIAL_CLASSES, FarmTarget, acquired
from edgekit.farm.supervisor import listening_addresses
from edgekit.farm.virtual import FarmConfig, board_status, free_port, start_farm, stop_farm
from tests.conftest import assert_clean_error, run_cli
from tests.farm.conftest import BOARD, BOARDS, LONG, VirtualFarm, sine_data

pytest_plugins = ["pytester"]
pytestmark = [pytest.mark.qemu, pytest.mark.toolchain, pytest.mark.timeout(300), pytest.mark.long]


def _report(path: Path) -> dict:
    return json.loads((path / "report.json").read_text())


LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F"}   # 127.0.0.1, ::ffff:127.0.0.1 in /proc/net
# A run writes its partial reports into its own directory (edgekit/hil/history.py).
RUN1 = Path("runs") / "0001"


def _all_free(farm: VirtualFarm) -> None:
    held = farm.held()
    assert len(held) == BOARDS and all(v is None for v in held.values()), held


def _wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_hil_on_one_place(virtual_farm: VirtualFarm, tmp_path: Path) -> None:
    r = run_cli(*virtual_farm.hil("--data", virtual_farm.data, "--place", "virtual-1", "--report", tmp_path,
                                  "--json"))
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["status"] == "complete" and report["samples_measured"] == 300
    assert report["agreement"]["exact_share"] == 1.0
    [board] = report["farm"]["boards"]
    assert board["place"] == "virtual-1" and board["samples"] == 300 and board["sample_ranges"] == [[0, 300]]
    assert board["port"].startswith("rfc2217://127.0.0.1:") and board["flashed"].startswith("virtual farm")
    assert board["latency"]["runs"] == 10
    _all_free(virtual_farm)


def test_three_boards_merge_into_the_single_board_report(virtual_farm: VirtualFarm, tmp_path: Path) -> None:
    single, farm = tmp_path / "single", tmp_path / "farm"
    # The long set: the boards take inputs from one pool as they come up, and a short set can be
    # done before the last board is flashed (an idle board is released with no samples).
    data = virtual_farm.long_data
    r = run_cli("hil", virtual_farm.project, "--data", data, "--runs", "10", "--report", single)
    assert r.returncode == 0, r.stderr
    r = run_cli(*virtual_farm.hil("--data", data, "--tags", f"board={BOARD}", "--boards", "3",
                                  "--report", farm))
    assert r.returncode == 0, r.stderr
    one, merged = _report(single), _report(farm)
    for key in ("status", "samples_planned", "samples_measured", "agreement", "task", "model_sha256", "device"):
        assert merged[key] == one[key], key
    assert merged["agreement"]["exact_share"] == 1.0   # every output equals the host's, as on one board
    boards = merged["farm"]["boards"]
    assert sorted(b["place"] for b in boards) == [f"virtual-{i}" for i in range(BOARDS)]
    assert all(b["status"] == "complete" for b in boards)
    assert sum(1 for b in boards if b["samples"] > 0) >= 2   # spread, not one board doing it all
    ran = sorted(i for b in boards for a, z in b["sample_ranges"] for i in range(a, z))
    assert ran == list(range(LONG))
    assert merged["latency"]["counts"] == one["latency"]["counts"]   # the same firmware on every board
    assert "## Boards" in (farm / "report.md").read_text()
    _all_free(virtual_farm)


def test_two_runs_at_once_never_share_a_place(virtual_farm: VirtualFarm, tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    procs = [subprocess.Popen([sys.executable, "-m", "edgekit.cli",
                               *map(str, virtual_farm.hil("--data", virtual_farm.data, "--tags", f"board={BOARD}",
                                                          "--boards", "2", "--report", tmp_path / f"r{i}"))],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in (0, 1)]
    try:
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    reports = [_report(tmp_path / f"r{i}") for i in (0, 1)]
    for rep in reports:   # a shared board would garble the other run's frames: every output exact
        assert rep["status"] == "complete" and rep["agreement"]["exact_share"] == 1.0
        places = [b["place"] for b in rep["farm"]["boards"]]
        # A run starts with the places it gets: one waiting for its second may finish first.
        assert 1 <= len(places) == len(set(places)) <= 2, places
    _all_free(virtual_farm)


def test_a_board_killed_mid_run_is_released_and_its_samples_run_elsewhere(virtual_farm: VirtualFarm,
                                                                            tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "edgekit.cli",
                             *map(str, virtual_farm.hil("--data", virtual_farm.long_data, "--tags", f"board={BOARD}",
                                                        "--boards", "3", "--report", tmp_path, "--json"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def victim_measured() -> bool:   # so it was flashed: the QEMU to kill is the one it runs now
            if not (tmp_path / RUN1 / "report.json").is_file():
                return False
            boards = _report(tmp_path / RUN1).get("farm", {}).get("boards", [])
            return any(b["place"] == "virtual-1" and b["samples"] > 0 for b in boards)

        _wait_for(victim_measured, 120, "virtual-1's first samples in the partial report")
        victim = next(b for b in board_status(virtual_farm.state) if b["name"] == "virtual-1")
        os.kill(victim["qemu_pid"], signal.SIGKILL)
        out, errs = proc.communicate(timeout=200)
    finally:
        proc.kill()
    assert proc.returncode == 0, errs
    report = json.loads(out)
    assert report["status"] == "complete" and report["samples_measured"] == LONG
    assert report["agreement"]["exact_share"] == 1.0
    boards = {b["place"]: b for b in report["farm"]["boards"]}
    assert boards["virtual-1"]["status"] == "failed"
    assert all(boards[p]["status"] == "complete" for p in ("virtual-0", "virtual-2"))
    ran = sorted(i for b in boards.values() for a, z in b["sample_ranges"] for i in range(a, z))
    assert ran == list(range(LONG))   # each input measured once, none lost
    assert any(e.startswith("virtual-1 failed after") and "released" in e for e in report["farm"]["events"])
    _all_free(virtual_farm)


def test_ctrl_c_releases_every_place(virtual_farm: VirtualFarm, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "edgekit.cli",
                             *map(str, virtual_farm.hil("--data", virtual_farm.long_data, "--tags", f"board={BOARD}",
                                                        "--boards", "3", "--report", tmp_path))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (tmp_path / RUN1 / "report.json").is_file(), 120, "the first partial report")
        assert all(v is not None for v in virtual_farm.held().values())
        proc.send_signal(signal.SIGINT)
        _, errs = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, errs
    assert "Traceback" not in errs
    assert not (tmp_path / "report.json").exists()   # an interrupted run is no report of the root's
    report = _report(tmp_path / RUN1)
    assert report["status"] == "failed" and report["error"].startswith("interrupted after")
    assert 0 < report["samples_measured"] < LONG
    _all_free(virtual_farm)


def test_bad_farm_input_is_one_clear_line(virtual_farm: VirtualFarm, tmp_path: Path) -> None:
    hil = ["hil", virtual_farm.project, "--data", virtual_farm.data]
    assert_clean_error(run_cli(*hil, "--farm", "127.0.0.1:9", "--tags", "board=x"), 3,
                       "no labgrid coordinator answers at 127.0.0.1:9")
    assert_clean_error(run_cli(*virtual_farm.hil("--data", virtual_farm.data, "--place", "nope")), 2,
                       "no such place", "virtual-0 (")
    assert_clean_error(run_cli(*virtual_farm.hil("--data", virtual_farm.data, "--tags", "board=nucleo-f446re")), 2,
                       "no place has tags board=nucleo-f446re")
    assert_clean_error(run_cli(*virtual_farm.hil("--data", virtual_farm.data, "--tags", f"board={BOARD}",
                                                 "--boards", "4")), 2, "only 3 place(s) have tags")
    assert_clean_error(run_cli(*hil, "--boards", "2"), 2, "--boards 2 spreads a run over a farm's places")
    with LabgridClient(virtual_farm.address) as client:
        client.acquire("virtual-0")
        try:
            r = run_cli(*virtual_farm.hil("--data", virtual_farm.data, "--place", "virtual-0", "--farm-timeout", "1"))
        finally:
            client.release("virtual-0")
    r.stderr = "\n".join(ln for ln in r.stderr.splitlines() if not ln.startswith("waiting for a free place"))
    assert_clean_error(r, 3, "place virtual-0", "was not free within 1 s")
    _all_free(virtual_farm)


PLUGIN_TESTS = """
import os
import pytest

@pytest.mark.hardware
@pytest.mark.parametrize("i", range(4))
def test_board_answers(dut, i):
    out, cycles = dut.infer(bytes(dut.device.input_bytes))
    assert cycles >= 0
    with open(os.path.join({out!r}, os.environ.get("PYTEST_XDIST_WORKER", "main") + ".url"), "w") as f:
        f.write(dut.url)
"""


def test_pytest_plugin_gives_each_xdist_worker_its_own_place(virtual_farm: VirtualFarm, pytester: pytest.Pytester,
                                                             tmp_path: Path) -> None:
    pytester.makepyfile(PLUGIN_TESTS.format(out=str(tmp_path)))
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--edgekit-board", BOARD,
                                           "--edgekit-farm", virtual_farm.address, "--edgekit-tags", f"board={BOARD}")
    result.assert_outcomes(passed=4)
    urls = {p.stem: p.read_text() for p in tmp_path.glob("*.url")}
    assert set(urls) == {"gw0", "gw1"} and len(set(urls.values())) == 2, urls   # never the same board
    _all_free(virtual_farm)


def test_everything_the_farm_starts_listens_on_loopback_only(virtual_farm: VirtualFarm) -> None:
    with acquired(FarmTarget(virtual_farm.address, place="virtual-2")) as [place]:
        ser2net = int(place.find(*SERIAL_CLASSES).params["port"])
        ports = {"coordinator": int(virtual_farm.address.rsplit(":", 1)[1]), "ser2net": ser2net,
                 "flasher": int(virtual_farm.state.flasher.split(":")[2].split("/")[0])}
        for what, port in ports.items():
            addresses = listening_addresses(port)
            assert addresses and set(addresses) <= LOOPBACK, (what, port, addresses)
    _all_free(virtual_farm)


def test_a_farm_whose_exporter_serves_the_consoles(virtual_farm: VirtualFarm, tmp_path: Path) -> None:
    # As for boards on USB serial ports: labgrid's exporter starts a place's ser2net (RawSerialPort)
    # when the place is acquired, and stops it on release. (The module's farm serves its consoles itself.)
    project = virtual_farm.project
    state = start_farm(FarmConfig(1, BOARD, free_port(), serial="exporter"), tmp_path / "state")
    try:
        with acquired(FarmTarget(state.coordinator, place="virtual-0")) as [place]:
            ser2net = int(place.find(*SERIAL_CLASSES).params["port"])
            assert listening_addresses(ser2net) and set(listening_addresses(ser2net)) <= LOOPBACK
        _wait_for(lambda: not listening_addresses(ser2net), 10, "the exporter to stop ser2net on release")
        r = run_cli("hil", project, "--farm", state.coordinator, "--place", "virtual-0", "--data",
                    sine_data(tmp_path / "d.npz", 50), "--runs", "5", "--report", tmp_path / "r", "--json")
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        assert report["samples_measured"] == 50 and report["agreement"]["exact_share"] == 1.0
        assert [b["place"] for b in report["farm"]["boards"]] == ["virtual-0"]
        with LabgridClient(state.coordinator) as client:
            assert [p.acquired for p in client.places()] == [None]
    finally:
        stop_farm(tmp_path / "state")
