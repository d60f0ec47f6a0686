"""The RISC-V family: a bare-metal RV32 port for QEMU's virt machine; CMake + riscv64-unknown-elf-gcc.

The templates in firmware_templates/riscv/ get :func:`riscv_context` under ``riscv``; the
project builds with ``cmake -G Ninja`` and the toolchain file it carries (:mod:`.cmake`) and
links against picolibc (C only: Debian's riscv64-unknown-elf has no C++ library, so no TFLM
here). The port polls an NS16550A console and takes milliseconds from semihosting: it runs on
QEMU only (``virtual = true``), in ``qemu-system-riscv32``.
"""

from __future__ import annotations

from typing import Any

from edgekit.boards.schema import Board
from edgekit.project.families.base import TflmSupport, board_error
from edgekit.project.families.cmake import CMakeFamily

TOOLCHAIN_FILE = "cmake/riscv64-unknown-elf.cmake"   # rendered from cmake/riscv64-unknown-elf.cmake.j2

# core -> (-march, -mabi). GCC 12 defaults to ISA spec 20191213, where CSR instructions need
# "_zicsr"; but rv32imc_zicsr matches no multilib (the default rv64 one is picked and the link
# fails), while rv32imc with -misa-spec=2.2 (Zicsr/Zifencei still part of I) both assembles
# csrr/csrw and selects the rv32im/ilp32 multilib of libgcc and picolibc.
CORES = {"riscv32imc": ("rv32imc", "ilp32")}
ISA_SPEC = "2.2"

# QEMU virt: DRAM from 0x8000_0000 (128 MiB by default), where -bios none starts the hart.
VIRT_DRAM = (0x8000_0000, 128 * 1024 * 1024)
# Console UARTs: name -> (base, input clock Hz): virt's NS16550A, 3.6864 MHz per its device tree.
UARTS = {"uart0": (0x1000_0000, 3_686_400)}
BAUD_TOLERANCE = 0.02


def cpu_flags(board: Board) -> list[str]:
    """The compiler's -march/-mabi flags for the board's core (compile and link alike)."""
    if board.core not in CORES:
        raise board_error(board, "core", f"is '{board.core}', expected one of {', '.join(CORES)}")
    march, mabi = CORES[board.core]
    return [f"-march={march}", f"-misa-spec={ISA_SPEC}", f"-mabi={mabi}"]


def _memory(board: Board) -> None:
    """Flash at the hart's start address, RAM above it, both in virt's DRAM, 4-byte aligned."""
    base, size = VIRT_DRAM
    if board.flash.origin != base:
        raise board_error(board, "memory.flash.origin", f"is {board.flash.origin:#x}, must be "
                          f"{base:#x}: QEMU virt with -bios none starts there")
    for key, region in (("flash", board.flash), ("ram", board.ram)):
        if region.origin % 4 or region.size % 4:
            raise board_error(board, f"memory.{key}", "origin and size must be multiples of 4")
        if region.origin < base or region.origin + region.size > base + size:
            raise board_error(board, f"memory.{key}", f"must lie in QEMU virt's DRAM "
                              f"{base:#x}..{base + size:#x}")
    if board.ram.origin < board.flash.origin + board.flash.size:
        raise board_error(board, "memory.ram.origin", "must be above memory.flash: start-up "
                          "makes everything below RAM read-only, the stack's overflow guard")


def _console(board: Board) -> dict[str, Any]:
    """The console UART's base and the 16550 divisor for the board's baud rate."""
    name = str(board.console.get("uart", ""))
    if name not in UARTS:
        raise board_error(board, "console.uart", f"is '{name}', expected one of {', '.join(UARTS)}")
    base, clock_hz = UARTS[name]
    divisor = max(1, round(clock_hz / (16 * board.baud)))
    actual = clock_hz / (16 * divisor)
    if abs(actual - board.baud) > BAUD_TOLERANCE * board.baud:
        raise board_error(board, "console.baud", f"is {board.baud}: the {clock_hz} Hz UART clock "
                          f"gives {actual:.0f} at best (divisor {divisor})")
    return {"uart": name, "base": base, "clock_hz": clock_hz, "divisor": divisor}


def riscv_context(board: Board) -> dict[str, Any]:
    """Everything the RISC-V templates derive from a board; BoardError naming the bad field."""
    if not board.virtual:
        raise board_error(board, "virtual", "must be true: the riscv port runs on QEMU only "
                          "(semihosting time, polled console)")
    flags = cpu_flags(board)
    march, mabi = CORES[board.core]
    _memory(board)
    counter = board.cycle_counter["kind"]
    if counter != "mcycle":
        raise board_error(board, "cycle_counter.kind", f"is '{counter}', the riscv port reads 'mcycle'")
    return {"march": march, "mabi": mabi, "cpu_flags": flags, "console": _console(board),
            "counter": counter}


class RiscvFamily(CMakeFamily):
    """RV32 virtual boards: bare-metal port in QEMU, CMake + Ninja + riscv64-unknown-elf-gcc."""

    name = "riscv"
    title = "RISC-V"
    source_dir = "src"
    tools = ("cmake", "ninja", "riscv64-unknown-elf-gcc")
    toolchain_file = TOOLCHAIN_FILE
    tflm = TflmSupport("none", why_not="TFLM is C++ and Debian's riscv64-unknown-elf toolchain has no C++ "
                                       "standard library")
    qemu = "qemu-system-riscv32"

    def render_context(self, board: Board) -> dict[str, Any]:
        """The ``riscv`` template context: :func:`riscv_context`."""
        return riscv_context(board)


__all__ = ["RiscvFamily", "riscv_context", "cpu_flags", "TOOLCHAIN_FILE"]
