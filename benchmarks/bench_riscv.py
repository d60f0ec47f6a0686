#!/usr/bin/env python3
"""edgekit-rt on the two virtual boards: the Cortex-M4 (qemu-netduinoplus2, DSP kernels) and the
RV32IMC core of the ESP32-C3 (qemu-riscv32, portable C kernels), through `edgekit compare`.

    python benchmarks/bench_riscv.py [MODEL.tflite ...] [-o DIR] [--samples N]

For each model (default: the zoo's sine, MLPerf Tiny DS-CNN and autoencoder, as committed in
tests/fixtures/models; pass the mlcommons/tiny reference .tflite files to measure those) it
runs :func:`edgekit.compare.run.compare_runtimes` with edgekit-rt on each board: the firmware a
user gets, generated, built and run by the harness on the same random inputs, with exactness
against tflite_micro. Figures are QEMU instructions per inference (-icount shift=0), not
cycles: real cores take more cycles than instructions. Exit status 0 when every run was exact.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.boards import load_board  # noqa: E402
from edgekit.compare.run import compare_runtimes  # noqa: E402
from edgekit.console import out, step  # noqa: E402
from edgekit.model.inspect import layers  # noqa: E402
from edgekit.model.tflite_graph import load_graph  # noqa: E402

BOARDS = {"qemu-netduinoplus2": "Cortex-M4F", "qemu-riscv32": "RV32IMC"}
MODELS = [REPO / "tests" / "fixtures" / "models" / f"{n}.tflite" for n in ("sine", "ds_cnn_kws", "ad_autoencoder")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", type=Path, default=MODELS)
    ap.add_argument("-o", "--out", type=Path, help="Working directory [default: a temporary one].")
    ap.add_argument("--samples", type=int, default=10, help="Random inputs checked against the reference.")
    args = ap.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="bench-riscv-"))
    t = Table(title="edgekit-rt on the virtual boards: QEMU instructions per inference (-icount shift=0)")
    for col in ("model", "MACs", *(f"{core} instructions" for core in BOARDS.values()), "RV32IMC / Cortex-M4F",
                *(f"{core} instr/MAC" for core in BOARDS.values()), "flash B (M4F / RV32)", "exact"):
        t.add_column(col, justify="left" if col in ("model", "exact") else "right", no_wrap=True)
    all_exact = True
    for model in args.models:
        macs = sum(layer.macs for layer in layers(load_graph(model)))
        counts, flash, exact = [], [], []
        for board_id in BOARDS:
            with step(f"{model.stem} on {board_id}"):
                c = compare_runtimes(model, load_board(board_id), root / board_id / model.stem, runtimes=["edgekit-rt"],
                                     samples=args.samples, runs=3, profile=False)
            r = c.results[0]
            counts.append(r.value("latency"))
            flash.append(r.value("flash"))
            exact.append(r.exact)
            if r.error:
                out.print(f"{model.stem} on {board_id}: {r.error}", markup=False)
        all_exact = all_exact and all(exact)
        m4, rv = counts
        t.add_row(model.stem, f"{macs:,}", *(f"{v:,.0f}" if v else "-" for v in counts),
                  f"x{rv / m4:.2f}" if m4 and rv else "-",
                  *(f"{v / macs:.2f}" if v and macs else "-" for v in counts),
                  " / ".join(f"{v:,.0f}" if v else "-" for v in flash), "yes" if all(exact) else "NO")
    out.print(t)
    out.print(f"projects and reports: {root}", markup=False)
    return 0 if all_exact else 1


if __name__ == "__main__":
    sys.exit(main())
