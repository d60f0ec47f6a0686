"""Flash and RAM a firmware will need, estimated before anything is built.

`generate` refuses a model that cannot fit and `inspect` shows the fit per board from these
figures; `edgekit build` then measures the real ELF. The constants are upper ends of what was
measured on our boards (Cortex-M4F, arm-none-eabi-gcc 12, -O2); each runtime's own code size
is `Runtime.code_flash_bytes` in edgekit/runtimes.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekit.runtimes import get_runtime

# Startup, port, protocol core, C library pieces: 6.7-8.7 KB measured.
FIRMWARE_FLASH_BYTES = 12 * 1024
# Main stack reserve of the generated STM32 projects (linker.ld).
STACK_BYTES = 8 * 1024
# Protocol frame buffers, receive ring, .data/.bss of the core (under 1.5 KB measured).
FIRMWARE_RAM_BYTES = 4 * 1024


@dataclass(frozen=True)
class Footprint:
    """Estimated flash and RAM (bytes) of a firmware running `runtime`; `arena` is in `ram`."""

    runtime: str
    flash: int
    ram: int
    arena: int


def estimate(runtime: str, *, model_flash: int, arena: int, io_bytes: int, state_bytes: int = 0) -> Footprint:
    """Footprint of a firmware on `runtime` (a runtime name; UsageError if unknown).

    model_flash: the runtime's model data in flash (`ModelCode.model_flash_bytes`);
    state_bytes: recurrent state kept outside the arena (`ModelCode.state_bytes`).
    """
    code = get_runtime(runtime).code_flash_bytes
    return Footprint(runtime, model_flash + code + FIRMWARE_FLASH_BYTES,
                     arena + state_bytes + STACK_BYTES + FIRMWARE_RAM_BYTES + io_bytes, arena)
