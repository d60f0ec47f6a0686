#!/usr/bin/env python3
"""edgekit-rt vs TFLM with CMSIS-NN on the MLPerf Tiny reference models, beside the published figures.

    python benchmarks/bench_mlperf_tiny.py [MODEL.tflite ...] [--tflm-dir DIR] [-o DIR]
                                           [--samples N] [--runs N] [--json FILE] [--optimize speed|size]

Each model (default: the four int8 reference models of mlcommons/tiny committed in
tests/fixtures/models/published/mlperf_tiny) goes through one :func:`edgekit.compare.compare_runtimes`
run on qemu-netduinoplus2 (Cortex-M4, so edgekit-rt builds its DSP path): both runtimes built
as the firmware a user gets, run on the same random inputs (exactness against tflite_micro),
timed, profiled per op and measured (arena, flash).

Latency is QEMU instructions per invoke (-icount shift=0): a lower bound on Cortex-M4 cycles,
not cycles. The published column is what MLPerf Tiny's results repositories (v1.1-v1.3) report
for the fastest submission on a Cortex-M4 (NUCLEO-L4R5ZI at 120 MHz), converted to cycles per
MAC: measured cycles, so it is compared with instructions only as a bound (ours can only be
slower in cycles than in instructions).

Beside the instructions: estimated Cortex-M4 cycles per invoke (compare's `cycles`,
:mod:`edgekit.hil.cycles`: one more profiled invoke of each firmware with QEMU's execution log
on, costed with the Cortex-M4 TRM's timings and `--flash-wait-states`), and the ms they take at
120 MHz: an estimate, labelled so, comparable with the published milliseconds (`--no-estimate`
skips it).

The TFLM tree defaults to ../shared/tflm/cmsis_nn beside the repository, else $TFLM_DIR.
`--json FILE` writes the table's figures (and each runtime's per-op-type profile) for a
before/after comparison. Exit status 0 when every runtime of every model was exact.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.boards import load_board  # noqa: E402
from edgekit.compare.result import Comparison, VariantResult  # noqa: E402
from edgekit.compare.run import compare_runtimes  # noqa: E402
from edgekit.console import out, step  # noqa: E402
from edgekit.model.inspect import op_macs  # noqa: E402
from edgekit.model.tflite_graph import load_graph  # noqa: E402
from edgekit.runtimes import EDGEKIT_RT  # noqa: E402
from edgekit.sim.cycles import Timing  # noqa: E402

BOARD = "qemu-netduinoplus2"
MODELS = REPO / "tests" / "fixtures" / "models" / "published" / "mlperf_tiny"


@dataclass(frozen=True)
class Published:
    """The fastest published Cortex-M4 result for one model (NUCLEO-L4R5ZI, 120 MHz)."""

    task: str
    ms: float
    tool: str


MHZ = 120
#: MLPerf Tiny results v1.1-v1.3, as quoted in issue 19.
PUBLISHED = {
    "vww_96_int8": Published("VWW MobileNetV1-0.25", 88.9, "X-CUBE-AI 9.0"),
    "pretrainedResnet_quant": Published("IC ResNet-8", 165.1, "X-CUBE-AI 9.0"),
    "kws_ref_model": Published("KWS DS-CNN", 43.2, "X-CUBE-AI 9.0"),
    "ad01_int8": Published("AD autoencoder", 4.05, "Plumerai"),
}


@dataclass(frozen=True)
class Row:
    """One model's figures: edgekit-rt (rt_*) against TFLM with CMSIS-NN (tflm_*)."""

    model: str
    macs: int
    exact: bool
    rt_instr: float | None
    tflm_instr: float | None
    rt_arena: float | None
    tflm_arena: float | None
    rt_flash: float | None
    tflm_flash: float | None
    rt_by_op: dict[str, int]
    tflm_by_op: dict[str, int]
    rt_est: int | None = None     # estimated cycles per invoke (Row.label)
    tflm_est: int | None = None
    rt_est_by_op: dict[str, int] | None = None
    rt_est_range: tuple[int, int] | None = None   # with the TRM's refill of 1 and of 3
    label: str = ""

    def per_mac(self, instr: float | None) -> float | None:
        return instr / self.macs if instr is not None and self.macs else None

    @staticmethod
    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None


def _by_op(r: VariantResult | None) -> dict[str, int]:
    return {} if r is None or r.profile is None else {g.name: g.cycles for g in r.profile.groups("op")}


def row_of(c: Comparison) -> Row:
    """The table's figures from one comparison (TFLM = the first tflm variant that ran), with the
    cycle estimates when the comparison made them."""
    graph = load_graph(c.model)
    rt = next((r for r in c.results if r.variant.runtime == EDGEKIT_RT), None)
    tf = next((r for r in c.results if r.variant.runtime != EDGEKIT_RT), None)
    v = lambda r, m: None if r is None else r.value(m)  # noqa: E731
    rt_est, tf_est = (None if r is None else r.cycles for r in (rt, tf))
    return Row(c.model.stem, sum(op_macs(graph, op) for op in graph.operators), c.all_exact,
               v(rt, "latency"), v(tf, "latency"), v(rt, "arena"), v(tf, "arena"), v(rt, "flash"),
               v(tf, "flash"), _by_op(rt), _by_op(tf), rt_est.invoke_cycles if rt_est else None,
               tf_est.invoke_cycles if tf_est else None,
               {k: c for k, (_, c) in rt_est.by_op().items()} if rt_est else None,
               rt_est.refill_range if rt_est else None, rt_est.label if rt_est else "")


def _f(v: float | None, fmt: str = ",.0f") -> str:
    return "-" if v is None else format(v, fmt)


def table(rows: list[Row]) -> Table:
    """The issue's table: instructions, instr/MAC, ratio to TFLM, arena and flash, published cycles/MAC."""
    t = Table(title="MLPerf Tiny on qemu-netduinoplus2 (QEMU instructions per invoke; published: measured cycles)")
    cols = ("model", "MACs", "exact", "rt instr", "rt instr/MAC", "TFLM instr", "TFLM instr/MAC", "rt/TFLM",
            "rt arena", "TFLM arena", "arena x", "rt flash", "TFLM flash", "published cycles/MAC (ms)")
    for col in cols:
        t.add_column(col, justify="left" if col in ("model", "exact") else "right")
    for r in rows:
        p = PUBLISHED.get(r.model)
        pub = "-" if p is None else f"{p.ms * MHZ * 1000 / r.macs:.2f} ({p.ms} ms, {p.tool})"
        t.add_row(r.model, _f(r.macs), "yes" if r.exact else "NO", _f(r.rt_instr), _f(r.per_mac(r.rt_instr), ".2f"),
                  _f(r.tflm_instr), _f(r.per_mac(r.tflm_instr), ".2f"), _f(r.ratio(r.rt_instr, r.tflm_instr), ".3f"),
                  _f(r.rt_arena), _f(r.tflm_arena), _f(r.ratio(r.rt_arena, r.tflm_arena), ".3f"), _f(r.rt_flash),
                  _f(r.tflm_flash), pub)
    return t


def estimate_table(rows: list[Row]) -> Table:
    """Estimated cycles and ms at 120 MHz beside the published (measured) figures."""
    label = next((r.label for r in rows if r.label), "estimated cycles")
    t = Table(title=f"{label}: per invoke, and ms at {MHZ} MHz; published: measured on a Cortex-M4 at {MHZ} MHz")
    for col in ("model", "rt instr", "rt est. cycles", "rt est. cycles/MAC", "rt est. ms", "rt est. ms, refill 1-3",
                "TFLM est. cycles", "TFLM est. ms", "rt/TFLM (est.)", "published ms", "rt est. / published"):
        t.add_column(col, justify="left" if col == "model" else "right")
    ms = lambda c: None if c is None else c / (MHZ * 1000)  # noqa: E731
    for r in rows:
        p = PUBLISHED.get(r.model)
        spread = "-" if r.rt_est_range is None else "-".join(f"{c / (MHZ * 1000):.1f}" for c in r.rt_est_range)
        t.add_row(r.model, _f(r.rt_instr), _f(r.rt_est), _f(r.per_mac(r.rt_est), ".2f"), _f(ms(r.rt_est), ".1f"),
                  spread,
                  _f(r.tflm_est), _f(ms(r.tflm_est), ".1f"), _f(r.ratio(r.rt_est, r.tflm_est), ".3f"),
                  "-" if p is None else f"{p.ms} ({p.tool})", _f(r.ratio(ms(r.rt_est), p.ms if p else None), ".2f"))
    return t


def op_table(rows: list[Row]) -> Table:
    """Instructions per op type, both runtimes: where the time goes."""
    t = Table(title="instructions per op type (one invoke)")
    for col in ("model", "op", "rt", "TFLM", "rt/TFLM"):
        t.add_column(col, justify="left" if col in ("model", "op") else "right")
    for r in rows:
        for op, n in sorted(r.rt_by_op.items(), key=lambda kv: -kv[1]):
            theirs = r.tflm_by_op.get(op)
            t.add_row(r.model, op, _f(n), _f(theirs), _f(r.ratio(n, theirs), ".3f"))
    return t


def default_tree() -> list[Path]:
    """../shared/tflm/cmsis_nn when it exists, else $TFLM_DIR (nothing: edgekit-rt only)."""
    shared = REPO.parent / "shared" / "tflm" / "cmsis_nn"
    if shared.is_dir():
        return [shared]
    return [Path(os.environ["TFLM_DIR"])] if os.environ.get("TFLM_DIR") else []


def main(argv: list[str] | None = None) -> int:
    """Run one comparison per model, print the tables, optionally write the JSON."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("models", nargs="*", type=Path, help=f"int8 .tflite files [default: {MODELS}/*.tflite]")
    ap.add_argument("--tflm-dir", dest="tflm_dirs", action="append", type=Path,
                    help="TFLM tree [default: ../shared/tflm/cmsis_nn, else $TFLM_DIR]")
    ap.add_argument("-o", "--out", type=Path, help="output directory [default: a temporary one]")
    ap.add_argument("--samples", type=int, default=5, help="test inputs per runtime")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per runtime (QEMU counts are deterministic)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--flash-wait-states", type=int, default=0,
                    help="wait states each pipeline refill adds in the cycle estimate [default: 0, ART cache hits]")
    ap.add_argument("--optimize", choices=("speed", "size"),
                    help="edgekit-rt's generate --optimize [default: chosen against the board's flash]")
    ap.add_argument("--no-estimate", action="store_true",
                    help="skip the cycle estimate (one traced invoke per firmware)")
    args = ap.parse_args(argv)
    models = args.models or sorted(MODELS.glob("*.tflite"), key=lambda p: list(PUBLISHED).index(p.stem))
    root = args.out or Path(tempfile.mkdtemp(prefix="bench-mlperf-tiny-"))
    board = load_board(BOARD)
    timing = None if args.no_estimate else Timing(flash_wait_states=args.flash_wait_states)
    comparisons = []
    for model in models:
        out.print(f"\n== {model.stem}")
        comparisons.append(compare_runtimes(model, board, root / model.stem, tflm_dirs=args.tflm_dirs or default_tree(),
                                            samples=args.samples, runs=args.runs, step=step, cycles=timing,
                                            optimize=args.optimize))
    rows = [row_of(c) for c in comparisons]
    out.print()
    out.print(op_table(rows))
    out.print(table(rows))
    if timing:
        out.print(estimate_table(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    problems = [f"{c.model.stem}: {p}" for c in comparisons for p in c.problems]
    for p in problems:
        out.print(f"[red]{p}[/]")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
