#!/usr/bin/env python3
"""Flash and RAM of the generated firmware per example and STM32 board (edgekit-rt runtime).

Trains each example with its CI settings (seed 0), quantizes it, then generates and builds the
firmware for every STM32 board file and reads the ELF (flash = text + rodata + data, RAM =
data + bss + the 8 KiB stack reserve). Sizes are deterministic for a given toolchain.

    python benchmarks/bench_firmware_size.py [EXAMPLE ...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edgekit.boards import list_boards
from edgekit.examples import EXAMPLES
from edgekit.model.quant_report import quantize_file
from edgekit.model.train import train_example
from edgekit.project.build import build_project
from edgekit.project.generate import generate_project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # the quick examples (Example.quick): story's teacher and distillation take minutes
    parser.add_argument("examples", nargs="*", default=[n for n, ex in EXAMPLES.items() if ex.quick])
    args = parser.parse_args()
    boards = [b for b in list_boards() if b.family == "stm32"]
    table = Table(title="edgekit-rt firmware: flash / RAM bytes (RAM includes the 8 KiB stack)")
    table.add_column("example")
    table.add_column("arena", justify="right")
    for b in boards:
        table.add_column(b.id, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.examples:
            out = Path(tmp) / name
            train_example(name, out)
            quantize_file(out / "model.keras", out / "data.npz", out / "model.tflite")
            cells, arena = [], 0
            for board in boards:
                gen = generate_project(out / "model.tflite", board, out / f"fw-{board.id}")
                size = build_project(gen.project).size
                arena = gen.arena_bytes
                cells.append(f"{size.flash_used:,} / {size.ram_used:,}")
            table.add_row(name, f"{arena:,}", *cells)
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
