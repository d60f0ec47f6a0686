"""Flash and RAM a firmware will need, estimated before anything is built.

`generate` refuses a model that cannot fit and `inspect` shows the fit per board from these
figures; `edgekit build` then measures the real ELF. The constants are upper ends of what was
measured on our boards (Cortex-M4F, arm-none-eabi-gcc 12, -O2).
"""

from __future__ import annotations

from dataclasses import dataclass

# Startup, port, protocol core, C library pieces: 6.7-8.7 KB measured.
FIRMWARE_FLASH_BYTES = 12 * 1024
# Main stack reserve of the generated STM32 projects (linker.ld).
STACK_BYTES = 8 * 1024
# Protocol frame buffers, receive ring, .data/.bss of the core (under 1.5 KB measured).
FIRMWARE_RAM_BYTES = 4 * 1024
# edgekit-rt kernels and per-model glue, beyond the model's constant data.
EDGEKIT_RT_CODE_BYTES = 8 * 1024
# TFLM interpreter + reference kernels beyond the .tflite: 22-43 KB for the shared models.
TFLM_CODE_BYTES = 48 * 1024


@dataclass(frozen=True)
class Footprint:
    runtime: str
    flash: int
    ram: int
    arena: int


def estimate(runtime: str, *, model_flash: int, arena: int, io_bytes: int) -> Footprint:
    """model_flash: constant data (edgekit-rt) or the .tflite size (tflm)."""
    code = EDGEKIT_RT_CODE_BYTES if runtime == "edgekit-rt" else TFLM_CODE_BYTES
    return Footprint(runtime, model_flash + code + FIRMWARE_FLASH_BYTES,
                     arena + STACK_BYTES + FIRMWARE_RAM_BYTES + io_bytes, arena)
