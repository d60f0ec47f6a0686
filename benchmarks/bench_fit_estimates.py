"""How close the flash and RAM estimates of `generate` (and so of inspect and compress) are to the
linked ELF, per model and runtime, on the virtual board.

    python benchmarks/bench_fit_estimates.py [MODEL.tflite ...] [--tflm-dir TREE]

Without models: the benchmark models of tests/fixtures/models and the published ones beside
them. Prints estimate, ELF and error for flash and RAM; a run that fails to build is shown as such.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.boards import load_board  # noqa: E402
from edgekit.errors import EdgekitError  # noqa: E402
from edgekit.project.build import build_project  # noqa: E402
from edgekit.project.generate import generate_project  # noqa: E402
from edgekit.runtimes.base import RuntimeOptions  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "models"
BOARD = "qemu-netduinoplus2"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--tflm-dir", type=Path, help="also estimate and build with TFLM from this tree")
    args = ap.parse_args()
    models = args.models or sorted(FIXTURES.glob("*.tflite")) + sorted((FIXTURES / "published").glob("*.tflite"))
    runtimes = ["edgekit-rt"] + (["tflm"] if args.tflm_dir else [])
    options = RuntimeOptions((args.tflm_dir,) if args.tflm_dir else ())
    board = load_board(BOARD)
    print(f"{'model':<34} {'runtime':<10} {'flash est':>10} {'flash ELF':>10} {'error':>7} "
          f"{'RAM est':>9} {'RAM ELF':>9} {'error':>7}")
    worst = 0.0
    for model in models:
        for runtime in runtimes:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    gen = generate_project(model, board, Path(tmp) / "fw", runtime=runtime, options=options)
                    size = build_project(gen.project, options=options).size
                except EdgekitError as exc:
                    print(f"{model.stem:<34} {runtime:<10} {str(exc)[:90]}")
                    continue
            ef = (gen.flash_estimate - size.flash_used) / size.flash_used
            er = (gen.ram_estimate - size.ram_used) / size.ram_used
            worst = max(worst, abs(ef), abs(er))
            print(f"{model.stem:<34} {runtime:<10} {gen.flash_estimate:>10,} {size.flash_used:>10,} {ef:>+7.1%} "
                  f"{gen.ram_estimate:>9,} {size.ram_used:>9,} {er:>+7.1%}", flush=True)
    print(f"largest error: {worst:.1%} (estimate - ELF, relative to the ELF)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
