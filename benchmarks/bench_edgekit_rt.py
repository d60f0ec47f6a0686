#!/usr/bin/env python3
"""edgekit-rt vs TFLM (reference kernels, CMSIS-NN) on the virtual board, through `edgekit compare`.

    python benchmarks/bench_edgekit_rt.py [MODEL.tflite ...] [--tflm-dir DIR ...] [-o DIR]
                                          [--samples N] [--cold-tflm-cache DIR]

For each model (default: the three benchmark models of edgekit.model.zoo) it runs
:func:`edgekit.compare.compare_runtimes` on qemu-netduinoplus2: each runtime is generated as a
real firmware project, built (first build from an empty build directory, then a no-op
rebuild), run by the harness on the same inputs (exactness against tflite_micro, latency p50
of the timed runs, per-op profile of one invoke), and measured (arena, flash, RAM of the
linked image). No private firmware: the figures are those of the firmware a user gets.

The TFLM trees default to ../shared/tflm/{ref,cmsis_nn} beside the repository, else $TFLM_DIR.
The first build of a tflm project includes building the TFLM library when edgekit's cache
does not hold it yet; `--cold-tflm-cache DIR` points the cache at DIR (empty it first) to time
that cold build. Latency figures are QEMU instructions (-icount shift=0), not Cortex-M cycles.
Exit status 0 when every runtime of every model was exact.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.boards import load_board  # noqa: E402
from edgekit.compare.report import print_comparison  # noqa: E402
from edgekit.compare.result import Comparison  # noqa: E402
from edgekit.compare.run import compare_runtimes  # noqa: E402
from edgekit.console import out, step  # noqa: E402

BOARD = "qemu-netduinoplus2"


def default_trees() -> list[Path]:
    """../shared/tflm/ref and cmsis_nn when they exist, else $TFLM_DIR (nothing: edgekit-rt only)."""
    shared = [REPO.parent / "shared" / "tflm" / kind for kind in ("ref", "cmsis_nn")]
    found = [t for t in shared if t.is_dir()]
    if found:
        return found
    return [Path(os.environ["TFLM_DIR"])] if os.environ.get("TFLM_DIR") else []


def _n(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def summary_table(comparisons: list[Comparison]) -> Table:
    """Every model x runtime: the figures the issue's closing note needs."""
    t = Table(title="summary (virtual board: latency in QEMU instructions)")
    for col in ("model", "runtime", "exact", "instructions p50", "x rt", "arena B", "flash B", "RAM B",
                "first build", "rebuild", "TFLM library", "profile coverage"):
        t.add_column(col, no_wrap=col in ("model", "runtime"),
                     justify="left" if col in ("model", "runtime", "exact", "TFLM library") else "right")
    for c in comparisons:
        for r in c.results:
            b = r.build
            lib = "-" if b is None or b.tflm_cached is None else (
                "cached" if b.tflm_cached else f"built, {b.tflm_compiled} sources")
            ratio = c.ratio(r, "latency")
            t.add_row(c.model.stem, r.variant.label, "yes" if r.exact else ("FAILED" if r.error else "NO"),
                      _n(r.value("latency")), "-" if ratio is None else f"{ratio:.3f}", _n(r.value("arena")),
                      _n(r.value("flash")), _n(r.value("ram")), "-" if b is None else f"{b.first_s:.1f} s",
                      "-" if b is None else f"{b.rebuild_s:.1f} s", lib,
                      "-" if r.profile is None else f"{r.profile.coverage:.2%}")
    return t


def main(argv: list[str] | None = None) -> int:
    """Run the comparison on every model and print each table, then the summary."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("models", nargs="*", type=Path,
                    help="int8 .tflite files [default: the benchmark models, built by edgekit.model.zoo]")
    ap.add_argument("--tflm-dir", dest="tflm_dirs", action="append", type=Path,
                    help="TFLM tree (repeatable) [default: ../shared/tflm/ref and cmsis_nn, else $TFLM_DIR]")
    ap.add_argument("-o", "--out", type=Path, help="output directory [default: a temporary one]")
    ap.add_argument("--samples", type=int, default=20, help="test inputs per runtime")
    ap.add_argument("--runs", type=int, default=10, help="timed runs per runtime")
    ap.add_argument("--cold-tflm-cache", type=Path, help="use this (empty) directory as edgekit's cache")
    args = ap.parse_args(argv)
    if not args.models:
        from edgekit.model import zoo

        args.models = [zoo.model_path(name) for name in zoo.MODEL_NAMES]   # before the cache moves
    if args.cold_tflm_cache:
        os.environ["XDG_CACHE_HOME"] = str(args.cold_tflm_cache.resolve())
    root = args.out or Path(tempfile.mkdtemp(prefix="bench-edgekit-rt-"))
    trees = args.tflm_dirs or default_trees()
    board = load_board(BOARD)
    comparisons = []
    for model in args.models:
        out.print(f"\n== {model.stem}")
        c = compare_runtimes(model, board, root / model.stem, tflm_dirs=trees, samples=args.samples,
                             runs=args.runs, step=step)
        comparisons.append(c)
        print_comparison(c, out)
    out.print()
    out.print(summary_table(comparisons))
    problems = [f"{c.model.stem}: {p}" for c in comparisons for p in c.problems]
    for p in problems:
        out.print(f"[red]{p}[/]")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
