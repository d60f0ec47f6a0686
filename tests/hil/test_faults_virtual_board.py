"""`edgekit hil` against the virtual board through a fault-injecting proxy: the harness
resynchronises or fails with a clear message, never hangs, and keeps what it measured."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekit.boards import load_board
from edgekit.errors import DeviceError
from edgekit.hil.evaluate import Gates
from edgekit.hil.harness import HilOptions, run_hil
from edgekit.project.build import build_project
from edgekit.project.generate import generate_project, origin_of_model
from edgekit.project.manifest import Project, open_project
from edgekit.sim.faultproxy import Fault, FaultProxy
from edgekit.sim.qemu import QemuBoard

pytestmark = [pytest.mark.timeout(120), pytest.mark.toolchain, pytest.mark.qemu]
BOARD = load_board("qemu-netduinoplus2")
SAMPLES = 40


@pytest.fixture(scope="module")
def project(tmp_path_factory, benchmark_model) -> tuple[Project, Path]:
    d = tmp_path_factory.mktemp("faults")
    data = d / "x.npz"
    np.savez(data, x=np.linspace(0, 6.28, SAMPLES, dtype=np.float32).reshape(SAMPLES, 1))
    model = benchmark_model("sine")
    generate_project(model, BOARD, d / "fw", origin=origin_of_model(model, data_path=data))
    fw = open_project(d / "fw", board=BOARD)
    build_project(fw)
    return fw, data


def _run(project: tuple[Project, Path], faults: list[Fault], tmp_path: Path, on_progress=None):
    fw, data = project
    with QemuBoard.for_board(BOARD, fw.built_elf()) as vb, \
            FaultProxy(vb.pty, faults, seed=3) as proxy:
        opts = HilOptions(port=proxy.url, data=data, bench_runs=10, report_dir=tmp_path / "report",
                          gates=Gates(require_exact=True))
        result = run_hil(fw, options=opts, on_progress=(lambda i, n: on_progress(vb, i)) if on_progress else None)
        return result, proxy.applied


@pytest.mark.parametrize("fault", [
    Fault("corrupt", "to_device", at_frame=5, count=2),
    Fault("corrupt", "to_host", at_frame=9, count=1),
    Fault("drop", "to_device", at_frame=12, count=3),
    Fault("drop", "to_host", at_frame=15, count=4),
    Fault("delay", "to_host", at_frame=20, seconds=2.5),  # longer than the 2 s reply timeout
    Fault("garbage", "to_host", at_byte=0, count=64),      # garbage before the handshake
    Fault("garbage", "to_device", at_frame=25, count=40),
], ids=lambda f: f"{f.kind}-{f.direction}")
def test_harness_recovers_and_stays_exact(project, tmp_path: Path, fault: Fault) -> None:
    result, applied = _run(project, [fault], tmp_path)
    assert applied, "the fault never fired: the test proves nothing"
    report = result.report
    assert report.status == "complete" and report.samples_measured == SAMPLES
    assert report.agreement is not None and report.link is not None
    assert report.agreement.exact_share == 1.0 and result.gates_passed
    if fault.kind != "garbage":
        assert report.link.resends >= 1  # it was repaired by a resend, not by luck


def test_board_lost_mid_run_keeps_what_was_measured(project, tmp_path: Path) -> None:
    def pull_the_plug(vb: QemuBoard, done: int) -> None:
        if done == 15:
            vb.stop()

    with pytest.raises(DeviceError) as exc:
        _run(project, [], tmp_path, on_progress=pull_the_plug)
    assert str(exc.value).startswith("after 15 of 40 samples: link to")
    assert "the 15 samples measured are in" in str(exc.value)
    # The failed run's report is its own (runs/0001); the root keeps no report of it.
    assert str(tmp_path / "report" / "runs" / "0001" / "report.json") in str(exc.value)
    assert not (tmp_path / "report" / "report.json").exists()
    report = json.loads((tmp_path / "report" / "runs" / "0001" / "report.json").read_text())
    assert report["status"] == "failed" and report["samples_measured"] == 15
    assert report["agreement"]["exact_share"] == 1.0  # the 15 measured samples are kept
    assert report["error"].startswith("after 15 of 40 samples")
