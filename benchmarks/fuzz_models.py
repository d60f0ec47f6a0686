"""A long run of the model fuzzer (tests/fuzz/model_fuzz.py): mutated and truncated benchmark
models through parse, inspect, generate and evaluate. Prints cases/s per model and every
finding (an exception other than a clean EdgekitError, a native crash or a hang), with the
mutant kept under WORK_DIR to reproduce it.

    python benchmarks/fuzz_models.py [--cases 2000] [--seed 1] [--models sine ds_cnn_kws]
                                     [--arena-every 50] [--case-timeout 300] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgekit.model import zoo  # noqa: E402
from tests.fuzz.model_fuzz import make_data  # noqa: E402


def _pump(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)
    lines.put(None)


def fuzz_model(name: str, cases: int, seed: int, arena_every: int, case_timeout: float, work: Path) -> int:
    """Fuzz one benchmark model in worker processes (a new one after a crash or hang)."""
    model = zoo.model_path(name)
    data = make_data(model, work / f"{name}-data.npz")
    findings, start, done = 0, 0, 0
    started = time.monotonic()
    while start < cases:
        argv = [sys.executable, "-m", "tests.fuzz.model_fuzz", str(model), str(data), str(work / name),
                str(seed), str(cases), str(start), "--arena-every", str(arena_every)]
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(proc, lines), daemon=True).start()
        current = start
        hung = False
        while True:
            try:
                line = lines.get(timeout=case_timeout)
            except queue.Empty:
                hung = True
                break
            if line is None:
                break
            event = json.loads(line)
            if "finding" in event:
                findings += 1
                print(f"  finding: {name} case {event['case']} ({event['label']}): {event['finding']}")
            elif "case" in event:
                current = event["case"]
                done += 1
        if hung:
            proc.kill()
            proc.wait()
            findings += 1
            print(f"  finding: {name} case {current}: hang (no progress for {case_timeout:g} s)")
            start = current + 1
            continue
        proc.wait()
        if proc.returncode != 0:
            findings += 1
            print(f"  finding: {name} case {current}: worker died with exit {proc.returncode}; "
                  f"mutant in {work / name / 'mutant.tflite'}")
            (work / name / "mutant.tflite").rename(work / name / f"crash-{current}.tflite")
            start = current + 1
            continue
        break
    elapsed = time.monotonic() - started
    print(f"{name}: {done} cases in {elapsed:.1f} s = {done / elapsed:.1f} cases/s, {findings} findings")
    return findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000, help="mutants per model")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--models", nargs="+", default=["sine", "ds_cnn_kws"])
    parser.add_argument("--arena-every", type=int, default=50, help="measure the TFLM arena every N cases")
    parser.add_argument("--case-timeout", type=float, default=300.0, help="seconds before a case is a hang")
    parser.add_argument("--work", type=Path, help="where mutants and findings are kept [default: a temp dir]")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="edgekit-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work directory: {work}")
    total = sum(fuzz_model(m, args.cases, args.seed, args.arena_every, args.case_timeout, work)
                for m in args.models)
    print(f"{total} findings")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
