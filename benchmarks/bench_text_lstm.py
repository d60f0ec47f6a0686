#!/usr/bin/env python3
"""The `text` example's Embedding -> LSTM -> Dense model on the virtual board: edgekit-rt vs TFLM
reference kernels vs TFLM CMSIS-NN, QEMU instructions per inference and exactness.

    python benchmarks/bench_text_lstm.py [MODEL.tflite] [--tflm-dir DIR ...] [-o DIR]
                                         [--samples N] [--runs N]

Without MODEL the example is trained and quantized first (`edgekit train text` and `edgekit
quantize --task next-word`, as a user would, into the output directory). Every runtime is
generated as a real firmware project, built and run by the harness through
:func:`edgekit.compare.compare_runtimes` on the same token-id windows of the example's test
split; exactness is against the host TFLM reference kernels (tflite_micro).

Known: TFLM's CMSIS-NN LSTM kernel is not bit-exact with its reference kernels (it computes
the gates with other rounding), so the CMSIS-NN row is not 100 % exact; the table says by how
many LSB it differs. Exit status 0 when edgekit-rt and TFLM reference were exact.
"""

from __future__ import annotations

import argparse
import subprocess
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_edgekit_rt import default_trees  # noqa: E402  (the same TFLM trees as the runtime benchmark)

BOARD = "qemu-netduinoplus2"


def text_model(out_dir: Path) -> Path:
    """Train and quantize the text example through the CLI; the int8 .tflite's path."""
    cli = [sys.executable, "-m", "edgekit.cli"]
    with step("training and quantizing the text example"):
        subprocess.run([*cli, "train", "text", "-o", str(out_dir)], check=True, capture_output=True)
        subprocess.run([*cli, "quantize", str(out_dir / "model.keras"), "--calib", str(out_dir / "data.npz"),
                        "--task", "next-word"], check=True, capture_output=True)
    return out_dir / "model.tflite"


def exactness_table(c: Comparison) -> Table:
    """Per runtime: instructions per inference and how exactly it matches TFLM's reference."""
    t = Table(title=f"{c.model.name}: {c.samples} inputs (virtual board, QEMU instructions)")
    for col in ("runtime", "instructions p50", "x edgekit-rt", "exact samples", "exact elements", "max |diff| LSB"):
        t.add_column(col, justify="left" if col == "runtime" else "right", no_wrap=True)
    for r in c.results:
        a, p50, ratio = r.agreement, r.value("latency"), c.ratio(r, "latency")
        t.add_row(r.variant.label, "-" if p50 is None else f"{p50:,.0f}",
                  "-" if ratio is None else f"{ratio:.3f}",
                  "failed" if a is None else f"{a.exact_share:.1%}",
                  "-" if a is None else f"{a.exact_elements_share:.1%}",
                  "-" if a is None else str(a.max_abs_diff_lsb))
    return t


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the tables."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("model", nargs="?", type=Path, help="the text model [default: train the example]")
    ap.add_argument("--tflm-dir", dest="tflm_dirs", action="append", type=Path,
                    help="TFLM tree (repeatable) [default: ../shared/tflm/ref and cmsis_nn, else $TFLM_DIR]")
    ap.add_argument("-o", "--out", type=Path, help="output directory [default: a temporary one]")
    ap.add_argument("--samples", type=int, default=50, help="test inputs per runtime")
    ap.add_argument("--runs", type=int, default=10, help="timed runs per runtime")
    args = ap.parse_args(argv)
    root = args.out or Path(tempfile.mkdtemp(prefix="bench-text-lstm-"))
    model = args.model or text_model(root / "text")
    data = model.parent / "data.npz"
    c = compare_runtimes(model, load_board(BOARD), root / "compare", tflm_dirs=args.tflm_dirs or default_trees(),
                         data=data if data.is_file() else None, samples=args.samples, runs=args.runs, step=step)
    print_comparison(c, out)
    out.print(exactness_table(c))
    must_be_exact = [r for r in c.results if r.variant.kernels != "cmsis_nn"]
    bad = [r.variant.label for r in must_be_exact if not r.exact]
    for label in bad:
        out.print(f"[red]{label} is not exact with the TFLM reference[/]")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
