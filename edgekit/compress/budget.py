"""What a compressed model must fit: the board's flash and RAM, and optionally a latency.

The fit of a candidate is the one `edgekit inspect` and `generate` compute
(:func:`edgekit.runtimes.fit.board_fit`), so a candidate that fits here passes generate's fit
check. --max-flash / --max-ram replace the board's sizes as the total the firmware may use.

Latency is predicted from the model's MACs and the runtime's instructions per MAC (its
`instructions_per_mac` and `invoke_instructions`, measured on the virtual board), at one
instruction per cycle at the board's clock: a screening figure, not a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekit.boards import Board
from edgekit.errors import ModelError, UsageError
from edgekit.model.inspect import layers
from edgekit.model.quantize import verify_int8
from edgekit.model.tflite_graph import Graph
from edgekit.runtimes import AUTO
from edgekit.runtimes.fit import board_fit
from edgekit.runtimes.registry import first_runtime, get_runtime


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
    """Milliseconds per inference predicted from MACs (the runtime's instructions per MAC and per
    invoke), at one instruction per cycle."""
    rt = get_runtime(runtime)
    return (macs * rt.instructions_per_mac + rt.invoke_instructions) / clock_hz * 1e3


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


def footprint(tflite: bytes, graph: Graph, board: Board, budget: Budget) -> CandidateFit:
    """The flash, RAM and predicted latency of an int8 candidate on `board` with the budget's
    runtime (auto: the first that runs it), as `edgekit inspect` and `generate` compute them;
    nothing is built. ModelError when the runtime cannot run it."""
    try:
        verify_int8(graph, "a compressed candidate")
    except ModelError as exc:
        raise ModelError(f"a compressed candidate is not deployable: {exc}") from None
    rt = first_runtime(graph) if budget.runtime == AUTO else get_runtime(budget.runtime)
    need = rt.footprint(graph, tflite, "a compressed candidate")
    fit = board_fit(rt, need, graph, board)
    macs = sum(layer.macs for layer in layers(graph))
    return CandidateFit(rt.name, fit.flash_needed, fit.ram_needed, need.arena_bytes, macs,
                        predicted_latency_ms(macs, rt.name, budget.clock_hz))


__all__ = ["Budget", "board_budget", "CandidateFit", "footprint", "predicted_latency_ms", "describe_overflow"]
