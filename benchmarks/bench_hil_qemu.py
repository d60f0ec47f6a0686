#!/usr/bin/env python3
"""Harness throughput on the virtual board's pty vs a raw ECHO baseline on the same link.

For each int8 .tflite (default: the benchmark models of edgekit.model.zoo), generates and
builds the edgekit-rt firmware for qemu-netduinoplus2, starts QEMU and measures, one after
the other on the same pty and firmware:
  - echo:  ECHO round trips carrying the model's input size (chunked like INFER when it is
           larger than one frame), i.e. the link + framing + parser without a model;
  - infer: Session.infer round trips (the harness's own loop), same input bytes.
The ratio infer/echo is the share of the link the harness keeps (target >= 0.8). Wall-clock
rates on a shared machine are noisy: compare the ratio measured in one run.

    python benchmarks/bench_hil_qemu.py [--seconds 3] [MODEL.tflite ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table


def measure(model: Path, seconds: float, work: Path) -> dict:
    from edgekit.boards import load_board
    from edgekit.hil.session import Session
    from edgekit.project.build import build_project
    from edgekit.project.generate import generate_project
    from edgekit.sim.qemu import VirtualBoard

    board = load_board("qemu-netduinoplus2")
    project = generate_project(model, board, work / model.stem).project
    elf = build_project(project).elf
    with VirtualBoard.for_board(board, elf) as vb, Session(vb.pty) as s:
        info = s.device
        x = np.random.default_rng(0).integers(-128, 128, info.input_bytes, dtype=np.int8)
        chunk = bytes(x[: min(len(x), s.max_payload)])
        echoes_per_input = -(-info.input_bytes // s.max_payload)

        def run(fn) -> tuple[float, int, int]:
            b0 = s.link.bytes_in + s.link.bytes_out
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                fn()
                n += 1
            dt = time.perf_counter() - t0
            return n / dt, n, s.link.bytes_in + s.link.bytes_out - b0

        def echo_round() -> None:
            for _ in range(echoes_per_input):
                s.echo(chunk)

        s.infer(x)  # warm up
        echo_rate, echo_n, echo_bytes = run(echo_round)
        infer_rate, infer_n, infer_bytes = run(lambda: s.infer(x))
    return {"model": model.name, "input": info.input_bytes, "output": info.output_bytes,
            "echo_per_s": echo_rate, "infer_per_s": infer_rate, "ratio": infer_rate / echo_rate,
            "echo_bytes_per_s": echo_bytes / seconds, "infer_bytes_per_s": infer_bytes / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path,
                        help="int8 .tflite files [default: the benchmark models, built by edgekit.model.zoo]")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if not args.models:
        from edgekit.model import zoo

        args.models = [zoo.model_path(name) for name in zoo.MODEL_NAMES]
    table = Table(title=f"harness on the virtual board's pty, {args.seconds:g} s per measurement")
    for col in ("model", "in/out bytes", "echo round trips/s", "infer round trips/s", "infer/echo",
                "link bytes/s (infer)"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            r = measure(model, args.seconds, Path(tmp))
            table.add_row(r["model"], f"{r['input']}/{r['output']}", f"{r['echo_per_s']:,.0f}",
                          f"{r['infer_per_s']:,.0f}", f"{r['ratio']:.2f}", f"{r['infer_bytes_per_s']:,.0f}")
    Console().print(table)


if __name__ == "__main__":
    sys.exit(main())
