"""Benchmark `edgekit hil --boards N` on the virtual labgrid farm: the same validation on 1 place
and on 4, wall time and speed-up, for each way a farm serves its boards' consoles.

- link-bound: the sine model (about 2,000 instructions per inference), 2,000 test inputs: the run
  is stop-and-wait round trips over the boards' serial lines (the virtual consoles carry bytes
  at 115200 baud, as a UART does), which N boards overlap;
- compute-bound: ds_cnn_kws (about 43 M instructions per inference under QEMU), a few inputs:
  each board is a QEMU process, so on this 2-core machine 4 boards can at best run 2 at a time.
Times are of the whole run (reserve, flash, connect, infer, release, report) and of its inference
phase (report.link.seconds: from the first test input to the last output, as on one board; the
later boards' reservation, flash and connect fall inside it), best of --repeat.

Consoles (`farm up --serial`): `console-server`, the farm's own ser2net serving every console all
along (a lab's terminal server), so reserving a place is a lock; `exporter`, labgrid's exporter
starting a place's ser2net when it is acquired, as it does for a board's USB serial port: it waits
0.5 s for each ser2net inside the coordinator's lock, so places come 0.5 s apart and the fourth
board starts 1.5 s after the first. Both pay fixed costs that N boards do not divide: pyserial's
RFC2217 client sleeps about 0.5 s opening a port (0.3 s closing it overlaps the report), and the
report takes about 0.3 s. Wall time on a shared machine is noisy: compare figures from one run.

    python benchmarks/bench_farm.py [--boards 4] [--samples 2000] [--kws-samples 40] [--repeat 1] [--baud B]
                                    [--serial console-server|exporter]
"""

from __future__ import annotations

import argparse
import os
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
from edgekit.farm.virtual import SERIAL_MODES, FarmConfig, free_port, start_farm, stop_farm  # noqa: E402
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
    ap.add_argument("--serial", choices=SERIAL_MODES, action="append",
                    help="how the farm serves the consoles [default: each way in turn]")
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
        print(f"{args.boards} virtual boards, consoles at {args.baud or 'the board file'}'s baud; "
              f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"{'consoles':<15} {'workload':<26} {'samples':>8} {'part':<10} {'1 board s':>10} "
              f"{f'{args.boards} boards s':>11} {'speed-up':>9}")
        for serial in args.serial or SERIAL_MODES:
            state_dir = root / f"farm-{serial}"
            try:
                config = FarmConfig(args.boards, BOARD, free_port(), baud=args.baud, serial=serial)
                state = start_farm(config, state_dir)
                target = FarmTarget(state.coordinator, tags={"board": BOARD})
                for name, project, data, n in workloads:
                    one = _timed(project, data, target, 1, args.repeat)
                    many = _timed(project, data, target, args.boards, args.repeat)
                    for part, a, b in (("whole run", one[0], many[0]), ("inference", one[1], many[1])):
                        print(f"{serial:<15} {name:<26} {n:>8,} {part:<10} {a:>10.2f} {b:>11.2f} {a / b:>8.2f}x",
                              flush=True)
            finally:
                stop_farm(state_dir)


if __name__ == "__main__":
    main()
