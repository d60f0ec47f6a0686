"""Check the chosen model's latency on the virtual board (when --max-latency-ms is given).

The prediction (budget.py) screens candidates; the chosen one is then generated, built and
timed on the virtual board (QEMU, `-icount shift=0`: one count per executed instruction),
and its median instruction count is turned into milliseconds at the target board's clock,
at one instruction per cycle: a check that the prediction was not optimistic, not a
measurement on the real silicon.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgekit.boards import DEFAULT_BOARD, Board, load_board
from edgekit.errors import EdgekitError

TIMED_RUNS = 10


@dataclass(frozen=True)
class LatencyCheck:
    """The virtual board's median instructions per inference and what they mean on the target board."""

    virtual_board: str
    instructions: float | None
    ms_on_board: float | None
    note: str


def check_latency(tflite: Path, data: Path, board: Board, runtime: str) -> LatencyCheck:
    """Time `tflite` on the virtual board; a failure to build or run it becomes a note, not an error."""
    from edgekit.hil.harness import HilOptions, run_hil
    from edgekit.project.build import build_project
    from edgekit.project.generate import generate_project, origin_of_model

    virtual = load_board(DEFAULT_BOARD)
    with tempfile.TemporaryDirectory(prefix="edgekit-compress-latency-") as tmp:
        try:
            origin = origin_of_model(tflite, data_path=data)
            gen = generate_project(tflite, virtual, Path(tmp) / "fw", runtime=runtime, origin=origin)
            build_project(gen.project)
            result = run_hil(gen.project, options=HilOptions(data=data, max_samples=2, bench_runs=TIMED_RUNS,
                                                             warmup=1, report_dir=Path(tmp) / "report",
                                                             float_reference=False))
        except EdgekitError as exc:
            return LatencyCheck(virtual.id, None, None, f"not checked on the virtual board: {exc.message}")
    lat = result.report.latency
    if lat is None or lat.counts is None:
        return LatencyCheck(virtual.id, None, None, "the virtual board reported no timed runs")
    instructions = lat.counts.p50
    ms = instructions / board.max_clock_hz * 1e3
    return LatencyCheck(virtual.id, instructions, round(ms, 3),
                        f"median of {lat.runs} runs on {virtual.id}: {instructions:,.0f} instructions, "
                        f"{ms:.3f} ms at {board.id}'s {board.max_clock_hz / 1e6:g} MHz")


__all__ = ["LatencyCheck", "check_latency", "TIMED_RUNS"]
