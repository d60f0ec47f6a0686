#!/usr/bin/env python3
"""Every published .tflite through edgekit on the virtual board: does it reach the board and run
exact, and if not, why.

    python benchmarks/survey_published_models.py PATH... [--tflm-dir TREE] [--samples N] [--json OUT]

PATH is a .tflite file or a directory searched for them, e.g. clones of tensorflow/tflite-micro
(tensorflow/lite/micro/examples, tensorflow/lite/micro/integration_tests, tensorflow/lite/micro/models)
and mlcommons/tiny (benchmark/training/*/trained_models). Each model is generated with the
default runtime (auto: edgekit-rt, else TFLM from --tflm-dir), built, and validated with `hil`
on random inputs over its input range against the host reference (--require-exact). Outcomes:

  exact      every output equal to the host reference (which runtime ran it is shown)
  differs    ran, but some output differs (a bug in edgekit or in the runtime: look)
  refused    one line, exit code 2/4, before anything ran (the reason is shown)
  failed     an error after generate (build, board, harness): the line is shown

A refusal is fine when TFLM refuses the model too (a float or hybrid model, an op TFLM lacks);
the summary counts them apart. Figures are QEMU instructions, not cycles.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.boards import load_board  # noqa: E402
from edgekit.data import save_dataset  # noqa: E402
from edgekit.errors import EdgekitError  # noqa: E402
from edgekit.hil.evaluate import Gates  # noqa: E402
from edgekit.hil.harness import HilOptions, run_hil  # noqa: E402
from edgekit.model.tensor_data import random_inputs  # noqa: E402
from edgekit.model.tflite_graph import load_graph  # noqa: E402
from edgekit.project.build import build_project  # noqa: E402
from edgekit.project.generate import generate_project  # noqa: E402
from edgekit.runtimes.base import RuntimeOptions  # noqa: E402

# Refusals TFLM shares: it cannot run these either (or edgekit-rt is not the only way out).
# Refusals TFLM shares: float or hybrid models, an op it lacks (a vendor NPU's custom op, e.g.
# ethos-u), a model bigger than the board (fit is checked for every runtime).
SHARED_REFUSALS = ("is float32, not int8", "computes in float32", "custom/flex op", "TFLM has no kernel",
                   "tflm has no kernel", "has no kernel for", "tflm does not support CUSTOM:",
                   "flash needs about")


@dataclass
class Outcome:
    """What happened to one model."""

    model: str
    outcome: str              # exact, differs, refused, failed
    runtime: str = ""
    detail: str = ""
    instructions: int | None = None
    seconds: float = 0.0

    @property
    def shared_refusal(self) -> bool:
        return self.outcome == "refused" and any(s in self.detail for s in SHARED_REFUSALS)


def survey_one(model: Path, board_id: str, options: RuntimeOptions, samples: int) -> Outcome:
    """Generate, build and validate `model` in a temporary directory."""
    board = load_board(board_id)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edgekit-survey-") as tmp:
        out = Outcome(str(model), "refused")
        try:
            gen = generate_project(model, board, Path(tmp) / "fw", options=options)
            out.runtime = gen.project.runtime
            arrays, _ = random_inputs(load_graph(model), samples)
        except EdgekitError as exc:
            out.detail = str(exc)
            out.seconds = time.monotonic() - t0
            return out
        out.outcome = "failed"
        try:
            build_project(gen.project, options=options)
            save_dataset(Path(tmp) / "x.npz", arrays)
            result = run_hil(gen.project, options=HilOptions(data=Path(tmp) / "x.npz", bench_runs=1, warmup=0,
                                                             report_dir=Path(tmp) / "report",
                                                             gates=Gates(require_exact=True),
                                                             float_reference=False))
            agree = result.report.agreement
            out.outcome = "exact" if result.gates_passed else "differs"
            out.detail = (f"{agree.exact_share:.0%} of {agree.samples} exact, max {agree.max_abs_diff_lsb} "
                          f"{agree.unit}; reference {result.report.host_reference}") if agree else ""
            lat = result.report.latency
            out.instructions = int(lat.counts.p50) if lat else None
        except EdgekitError as exc:
            out.detail = str(exc)
    out.seconds = time.monotonic() - t0
    return out


def find_models(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for p in paths:
        found += sorted(p.rglob("*.tflite")) if p.is_dir() else [p]
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--tflm-dir", type=Path, help="TFLM tree for models edgekit-rt cannot run")
    ap.add_argument("--board", default="qemu-netduinoplus2")
    ap.add_argument("--samples", type=int, default=8, help="random inputs per model [default: 8]")
    ap.add_argument("--json", type=Path, help="also write every outcome here")
    args = ap.parse_args()
    options = RuntimeOptions((args.tflm_dir,) if args.tflm_dir else ())
    outcomes = []
    models = find_models(args.paths)
    for i, model in enumerate(models, 1):
        o = survey_one(model, args.board, options, args.samples)
        outcomes.append(o)
        count = f"{o.instructions:,} instr" if o.instructions else ""
        print(f"[{i}/{len(models)}] {o.outcome:<8} {o.runtime:<10} {count:>16}  {model}  {o.detail}", flush=True)
        if args.json:
            args.json.write_text(json.dumps([asdict(x) for x in outcomes], indent=1) + "\n")
    print()
    for kind in ("exact", "differs", "refused", "failed"):
        group = [o for o in outcomes if o.outcome == kind]
        by_rt = ", ".join(f"{rt or '-'} {sum(o.runtime == rt for o in group)}"
                          for rt in sorted({o.runtime for o in group}))
        extra = f" ({sum(o.shared_refusal for o in group)} for a reason TFLM shares)" if kind == "refused" else ""
        print(f"{kind:<8} {len(group):>4}{extra}{'  by runtime: ' + by_rt if group and kind != 'refused' else ''}")
    return 0 if not any(o.outcome in ("differs", "failed") for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
