"""Flash and RAM a firmware will need on a board, estimated before anything is built: the one
fit function `inspect`, `generate` and `compress` share.

`generate` refuses a model that cannot fit and `inspect` shows the fit per board from these
figures; `edgekit build` then measures the real ELF. The constants are upper ends of what was
measured on our boards (Cortex-M4F, arm-none-eabi-gcc 12, -O2); each runtime estimates its own
code for the model (ModelFootprint.code_flash_bytes). benchmarks/bench_fit_estimates.py prints
the estimate against the ELF per model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from edgekit.boards import Board
from edgekit.errors import FitError
from edgekit.model.tflite_graph import Graph
from edgekit.runtimes.base import ModelFootprint, Runtime

# Startup, port, protocol core, streaming, C library pieces: 9.6-9.7 KB measured.
FIRMWARE_FLASH_BYTES = 10 * 1024
# Main stack reserve of the generated STM32 projects (linker.ld).
STACK_BYTES = 8 * 1024
# Protocol frame buffers, receive ring, .data/.bss of the core (1.5 KB measured).
FIRMWARE_RAM_BYTES = 2 * 1024


@dataclass
class BoardFit:
    """Estimated flash and RAM (bytes) a model needs on one board with one runtime, and the board's sizes."""

    board: str
    runtime: str
    flash_needed: int
    flash_size: int
    ram_needed: int
    ram_size: int
    chosen: bool = False    # the runtime `--runtime auto` uses for this model

    @property
    def fits(self) -> bool:
        """Whether both the flash and the RAM needed fit the board."""
        return self.flash_needed <= self.flash_size and self.ram_needed <= self.ram_size

    def check(self, model: str) -> None:
        """FitError naming the region that does not fit."""
        for region, amount, have in (("flash", self.flash_needed, self.flash_size),
                                     ("RAM", self.ram_needed, self.ram_size)):
            if amount > have:
                raise FitError(f"{model} does not fit {self.board} with runtime {self.runtime}: {region} needs "
                               f"about {amount:,} bytes, the board has {have:,}",
                               hint="use a smaller model, another runtime, or a board with more memory")

    def to_dict(self) -> dict[str, Any]:
        """The fit as a JSON-ready dict, with the computed `fits`."""
        return {**asdict(self), "fits": self.fits}


def io_bytes(graph: Graph) -> int:
    """The firmware's staged input and output buffers."""
    return sum(t.nbytes for t in (*graph.input_tensors, *graph.output_tensors))


def board_fit(runtime: Runtime, need: ModelFootprint, graph: Graph, board: Board, *, chosen: bool = False) -> BoardFit:
    """The firmware's flash (model data, the runtime's code, the firmware) and RAM (arena, state,
    stack, the firmware's buffers, the model's I/O) on `board`."""
    flash = need.model_flash_bytes + need.code_flash_bytes + FIRMWARE_FLASH_BYTES
    ram = need.arena_bytes + need.state_bytes + STACK_BYTES + FIRMWARE_RAM_BYTES + io_bytes(graph)
    return BoardFit(board.id, runtime.name, flash, board.flash.size, ram, board.ram.size, chosen=chosen)


__all__ = ["BoardFit", "board_fit", "io_bytes", "FIRMWARE_FLASH_BYTES", "FIRMWARE_RAM_BYTES", "STACK_BYTES"]
