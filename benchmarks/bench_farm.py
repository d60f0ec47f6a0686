"""Benchmark `edgekit hil --boards N` on the virtual labgrid farm: the same validation on 1 place
and on 4, wall time and speed-up.

- link-bound: the sine model (about 2,000 instructions per inference), 2,000 test inputs: the run
  is stop-and-wait round trips over the boards' serial lines (the virtual consoles carry bytes
  at 115200 baud, as a UART does), which N boards overlap;
- compute-bound: ds_cnn_kws (about 43 M instructions per inference under QEMU), a few inputs:
  each board is a QEMU process, so on this 2-core machine 4 boards can at best run 2 at a time.
Times are of the whole run (reserve, flash, connect, infer, release, report) and of its inference
phase (report.link.seconds: from the first test input to the last output, as on one board; the
later boards' reservation, flash and connect fall inside it), best of --repeat. A run has fixed
costs that N boards do not divide, about 2.3 s here: labgrid's exporter starts each place's
ser2net when it is acquired and waits 0.5 s to see it run, one place at a time (the coordinator
holds its lock), so the fourth board starts 1.5 s after the first; pyserial's RFC2217 client
sleeps 0.5 s opening a port and 0.3 s closing it; the report and its plots take 0.4 s. They
bound the speed-up of a short run: `--samples 10000` shows the scaling of a long one.
Wall time on a shared machine is noisy: compare figures from one run.

    python benchmarks/bench_farm.py [--boards 4] [--samples 2000] [--kws-samples 40] [--repeat 1] [--baud B]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.farm.place import FarmTarget  # noqa: E402
from edgekit.farm.scaleout import FarmRun, run_hil_farm  # noqa: E402
from edgekit.farm.virtual import FarmConfig, start_farm, stop_farm  # noqa: E402
from edgekit.hil.harness import HilOptions  # noqa: E402
from edgekit.project.manifest import open_project  # noqa: E402

BOARD = "qemu-netduinoplus2"
MODELS = REPO / "tests" / "fixtures" / "models"


def _cli(*args: object) -> None:
    subprocess.run([sys.executable, "-m", "edgekit.cli", *map(str, args)], check=True, capture_output=True)


def _project(model: str, out: Path) -> Path:
    _cli("generate", MODELS / f"{model}.tflite", "--board", BOARD, "-o", out)
    _cli("build", out)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(project: Path, data: Path, target: FarmTarget, boards: int, repeat: int) -> tuple[float, float]:
    """Best wall time of the whole run and of its inference phase (report.link.seconds: from the
    first test input to the last, every board at work)."""
    best = (float("inf"), float("inf"))
    for i in range(repeat):
        opts = HilOptions(data=data, bench_runs=0, report_dir=project.parent / f"report-{boards}-{i}",
                          float_reference=False)
        started = time.perf_counter()
        result = run_hil_farm(open_project(project), FarmRun(target, boards), options=opts)
        whole = time.perf_counter() - started
        report = result.report
        assert report.status == "complete" and report.agreement is not None and report.link is not None
        assert report.agreement.exact_share == 1.0
        best = min(best, (whole, report.link.seconds))
    return best


def main() -> None:
    """Run both workloads on 1 board and on --boards boards and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boards", type=int, default=4)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--kws-samples", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--baud", type=int, help="the virtual consoles' rate [default: the board's, 115200]")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-farm-") as tmp:
        root = Path(tmp)
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 6.28, (args.samples, 1)).astype(np.float32)
        np.savez(root / "sine.npz", x=x, y=np.sin(x))
        np.savez(root / "kws.npz", x=rng.uniform(-1, 1, (args.kws_samples, 49, 10, 1)).astype(np.float32))
        workloads = [("link-bound: sine", _project("sine", root / "sine"), root / "sine.npz", args.samples)]
        if args.kws_samples:
            workloads.append(("compute-bound: ds_cnn_kws", _project("ds_cnn_kws", root / "kws"), root / "kws.npz",
                              args.kws_samples))
        state_dir = root / "farm"
        try:
            state = start_farm(FarmConfig(args.boards, BOARD, _free_port(), baud=args.baud), state_dir)
            print(f"{args.boards} virtual boards, consoles at {args.baud or 'the board file'}'s baud; "
                  f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            target = FarmTarget(state.coordinator, tags={"board": BOARD})
            print(f"{'workload':<28} {'samples':>8} {'part':<10} {'1 board s':>10} {f'{args.boards} boards s':>11} "
                  f"{'speed-up':>9}")
            for name, project, data, n in workloads:
                one = _timed(project, data, target, 1, args.repeat)
                many = _timed(project, data, target, args.boards, args.repeat)
                for part, a, b in (("whole run", one[0], many[0]), ("inference", one[1], many[1])):
                    print(f"{name:<28} {n:>8,} {part:<10} {a:>10.2f} {b:>11.2f} {a / b:>8.2f}x", flush=True)
        finally:
            stop_farm(state_dir)


if __name__ == "__main__":
    main()
