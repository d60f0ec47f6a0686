"""Time `edgekit quantize` (export + conversion + int8 verification) for each example.

Trains each example once with its CI settings (seed 0), then quantizes it --repeat times and
prints min/median wall seconds, calibration samples and model sizes. Wall time on a shared
machine is noisy: compare figures from one run, not across runs.

    python benchmarks/bench_quantize.py [--repeat 3] [EXAMPLE ...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edgekit.examples import EXAMPLES
from edgekit.model.quant_report import quantize_file
from edgekit.model.train import train_example


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # the quick examples (Example.quick): story's teacher and distillation take minutes
    parser.add_argument("examples", nargs="*", default=[n for n, ex in EXAMPLES.items() if ex.quick])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    table = Table(title=f"edgekit quantize, {args.repeat} runs each (wall seconds)")
    for col in ("example", "params", "calib samples", ".tflite bytes", "min s", "median s", "float", "int8"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.examples:
            out = Path(tmp) / name
            trained = train_example(name, out)
            times = []
            for i in range(args.repeat):
                start = time.perf_counter()
                report = quantize_file(out / "model.keras", out / "data.npz", out / f"q{i}.tflite")
                times.append(time.perf_counter() - start)
            table.add_row(name, f"{trained.params:,}", str(report.calibration["samples"]),
                          f"{report.int8_file_bytes:,}", f"{min(times):.2f}", f"{statistics.median(times):.2f}",
                          f"{report.metric} {report.float_value:.4f}", f"{report.int8_value:.4f}")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
