"""What a compressed model must fit: the board's flash and RAM, and optionally a latency.

The fit of a candidate is the one `edgekit inspect` and `generate` compute (the firmware's
own flash and RAM from edgekit/footprint.py plus the runtime's model data and arena, via
edgekit.model.inspect), so a candidate that fits here passes generate's fit check.
--max-flash / --max-ram replace the board's sizes as the total the firmware may use.

Latency is predicted from the model's MACs and the runtime's instructions per MAC, at one
instruction per cycle at the board's clock: a screening figure, not a measurement.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgekit.boards import Board
from edgekit.errors import ModelError, UsageError
from edgekit.model.tflite_graph import Graph
from edgekit.runtimes import AUTO, EDGEKIT_RT, TFLM, edgekit_rt_gaps, get_runtime

# Instructions per inference = INSTRUCTIONS_PER_MAC x MACs + INVOKE_INSTRUCTIONS, a line
# through two zoo models measured on the virtual board (qemu-netduinoplus2, -icount shift=0)
# with benchmarks/bench_edgekit_rt.py: edgekit-rt (Cortex-M4 DSP kernels) ran ds_cnn_kws
# (2,656,768 MACs) in 7,459,524 instructions and sine (288 MACs) in 2,074; TFLM's reference
# kernels in 43,084,499 and 5,094. ad_autoencoder (264,192 MACs, 499,616 measured on
# edgekit-rt) falls below the line: the conv-heavy slope is the pessimistic one.
INSTRUCTIONS_PER_MAC = {EDGEKIT_RT: 2.807, TFLM: 16.22}
INVOKE_INSTRUCTIONS = {EDGEKIT_RT: 1_266, TFLM: 423}


@dataclass(frozen=True)
class Budget:
    """The totals a firmware may use on `board` (bytes; latency in ms or None for no limit)."""

    board: str
    runtime: str              # a runtime name, or "auto" (edgekit-rt when it runs the model, else tflm)
    flash: int
    ram: int
    latency_ms: float | None
    clock_hz: int
    flash_from: str           # "board" or "--max-flash"
    ram_from: str


def board_budget(board: Board, runtime: str = AUTO, *, max_flash: int | None = None, max_ram: int | None = None,
                 max_latency_ms: float | None = None) -> Budget:
    """The budget on `board`: its flash and RAM unless overridden; UsageError for a
    non-positive override or an unknown runtime."""
    if runtime != AUTO:
        get_runtime(runtime)
    for flag, value in (("--max-flash", max_flash), ("--max-ram", max_ram), ("--max-latency-ms", max_latency_ms)):
        if value is not None and value <= 0:
            raise UsageError(f"{flag} must be positive, got {value}")
    return Budget(board.id, runtime, max_flash or board.flash.size, max_ram or board.ram.size, max_latency_ms,
                  board.max_clock_hz, "--max-flash" if max_flash else "board", "--max-ram" if max_ram else "board")


def predicted_latency_ms(macs: int, runtime: str, clock_hz: int) -> float:
    """Milliseconds per inference predicted from MACs (see INSTRUCTIONS_PER_MAC), at one
    instruction per cycle."""
    return (macs * INSTRUCTIONS_PER_MAC[runtime] + INVOKE_INSTRUCTIONS[runtime]) / clock_hz * 1e3


@dataclass(frozen=True)
class CandidateFit:
    """What one int8 candidate needs on the budget's board with the runtime it would use."""

    runtime: str
    flash: int
    ram: int
    arena: int
    macs: int
    latency_ms: float

    def overflow(self, budget: Budget) -> dict[str, float]:
        """How far past the budget each exceeded limit is (bytes, or ms for latency); empty when it fits."""
        over: dict[str, float] = {}
        if self.flash > budget.flash:
            over["flash"] = self.flash - budget.flash
        if self.ram > budget.ram:
            over["ram"] = self.ram - budget.ram
        if budget.latency_ms is not None and self.latency_ms > budget.latency_ms:
            over["latency_ms"] = round(self.latency_ms - budget.latency_ms, 3)
        return over


def describe_overflow(over: dict[str, float]) -> str:
    """E.g. "flash 12,345 B over, RAM 1,024 B over"."""
    parts = []
    for key, value in over.items():
        if key == "latency_ms":
            parts.append(f"latency {value:.2f} ms over")
        else:
            parts.append(f"{'RAM' if key == 'ram' else key} {int(value):,} B over")
    return ", ".join(parts)


def fine_tune_flash_margin(graph: Graph, runtime: str) -> int:
    """Flash bytes fine-tuning may add to an edgekit-rt candidate sized before it. Each layer's
    per-channel shifts are packed into its multipliers or stored as one byte per channel,
    depending on the weight scales (Lowerer.requant_init in edgekit/codegen), so new weights can
    add a byte per output channel of every per-channel quantized convolution or dense layer."""
    if runtime != EDGEKIT_RT:
        return 0
    margin = 0
    for op in graph.operators:
        if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and len(op.inputs) > 1:
            w = graph.tensors[op.inputs[1]]
            if w.quant is not None and w.quant.per_channel:
                margin += int(w.quant.scale.size)
    return margin


def footprint(tflite: bytes, graph: Graph, board: Board, budget: Budget) -> CandidateFit:
    """The flash, RAM (edgekit-rt plan or measured TFLM arena) and predicted latency of an int8
    .tflite on `board`, as `edgekit inspect` estimates them; nothing is built."""
    from edgekit.model.inspect import inspect_model

    # The TFLM arena is measured (about a second per try) only when TFLM is the runtime.
    measure = budget.runtime == TFLM or (budget.runtime == AUTO and bool(edgekit_rt_gaps(graph)))
    with tempfile.TemporaryDirectory(prefix="edgekit-compress-") as tmp:
        path = Path(tmp) / "candidate.tflite"
        path.write_bytes(tflite)
        report = inspect_model(path, [board], measure_arena=measure)
    if report.not_deployable:
        raise ModelError(f"a compressed candidate is not deployable: {report.not_deployable}")
    runtime = report.runtime if budget.runtime == AUTO else budget.runtime
    fits = [f for f in report.fits if f.runtime == runtime]
    if not fits:
        why = report.edgekit_rt_unsupported or "the TFLM arena could not be measured"
        raise ModelError(f"runtime {runtime} cannot run the compressed model: {why}")
    fit = fits[0]
    arena = (report.edgekit_rt.arena_bytes if runtime == EDGEKIT_RT and report.edgekit_rt is not None
             else report.tflm_arena_device or 0)
    return CandidateFit(runtime, fit.flash_needed, fit.ram_needed, arena, report.total_macs,
                     predicted_latency_ms(report.total_macs, runtime, budget.clock_hz))


__all__ = ["Budget", "board_budget", "CandidateFit", "footprint", "fine_tune_flash_margin", "predicted_latency_ms",
           "describe_overflow",
           "INSTRUCTIONS_PER_MAC", "INVOKE_INSTRUCTIONS"]
