"""The ESP32 family: ESP-IDF settings from a board file; ``idf.py build``.

The templates in firmware_templates/esp32/ get :func:`esp32_context` under ``esp32``
(target, CPU MHz, flash size, main task stack). ESP-IDF names the image after the project;
its build directory's project_description.json says which file it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgekit.boards.schema import Board
from edgekit.project.families.base import BoardFamily, TflmSupport, board_error, int_field
from edgekit.project.size import SizeReport, alloc_sections

# IDF_TARGET -> CPU frequencies ESP-IDF offers (CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ choices).
CPU_MHZ: dict[str, tuple[int, ...]] = {
    "esp32": (80, 160, 240), "esp32s2": (80, 160, 240), "esp32s3": (80, 160, 240),
    "esp32c3": (80, 160), "esp32c6": (80, 120, 160)}
ESP32_TARGETS = tuple(CPU_MHZ)
FLASH_SIZES = ("1MB", "2MB", "4MB", "8MB", "16MB", "32MB")
DEFAULT_MAIN_TASK_STACK = 8192
_NO_ELF_YET = "firmware.elf"   # before the first build, no project_description.json names the image


def esp32_context(board: Board) -> dict[str, Any]:
    """ESP-IDF settings derived from an ESP32 board file; BoardError naming the bad field."""
    if not board.esp32:
        raise board_error(board, "esp32", "is missing (ESP32 boards need [esp32] with target)")
    target = board.esp32.get("target")
    if target not in CPU_MHZ:
        raise board_error(board, "esp32.target", f"is {target!r}, expected one of: "
                          f"{', '.join(ESP32_TARGETS)}")
    sysclk = board.clock["sysclk_hz"]
    mhz = sysclk // 1_000_000
    allowed = CPU_MHZ[target]
    if mhz not in allowed or mhz * 1_000_000 != sysclk:
        raise board_error(board, "clock.sysclk_hz", f"is {sysclk}, ESP-IDF offers "
                          f"{', '.join(f'{a} MHz' for a in allowed)} for {target}")
    if board.console.get("uart", "UART0") != "UART0":
        raise board_error(board, "console.uart", "must be 'UART0' (the ESP-IDF console UART)")
    flash_size = str(board.esp32.get("flash_size", "4MB"))
    if flash_size not in FLASH_SIZES:
        raise board_error(board, "esp32.flash_size", f"is '{flash_size}', expected e.g. '4MB'")
    return {"target": target, "cpu_mhz": mhz, "flash_size": flash_size,
            "main_task_stack": int_field(board, board.esp32, "main_task_stack", "esp32.",
                                         DEFAULT_MAIN_TASK_STACK)}


class Esp32Family(BoardFamily):
    """ESP32 boards (Xtensa and RISC-V): an ESP-IDF project built with idf.py."""

    name = "esp32"
    title = "ESP32"
    source_dir = "main"     # ESP-IDF's main component
    tools = ("idf.py",)
    tflm = TflmSupport("component", label="esp-tflite-micro")   # through the IDF component manager

    def render_context(self, board: Board) -> dict[str, Any]:
        """The ``esp32`` template context: :func:`esp32_context`."""
        return esp32_context(board)

    def build_commands(self, project_dir: Path, build_dir: Path, *, jobs: int = 2,
                       defines: Mapping[str, str] | None = None) -> list[list[str]]:
        """``idf.py build`` (it picks its own parallelism), `defines` as CMake cache entries."""
        return [["idf.py", "-C", str(project_dir), "-B", str(build_dir),
                 *(f"-D{key}={value}" for key, value in (defines or {}).items()), "build"]]

    def elf_path(self, build_dir: Path) -> Path:
        """The app ELF named in project_description.json; else the one ELF there, else a path that
        does not exist yet."""
        desc = build_dir / "project_description.json"
        if desc.is_file():
            try:
                name = json.loads(desc.read_text()).get("app_elf")
            except (OSError, ValueError, AttributeError):
                name = None
            if name:
                return build_dir / name
        found = sorted(p for p in build_dir.glob("*.elf") if p.is_file())
        return found[0] if found else build_dir / _NO_ELF_YET

    def read_size(self, elf: Path, board: Board) -> SizeReport:
        """ESP-IDF images: flash-mapped text/rodata plus IRAM code and DRAM data, by section name;
        the stack is the main task's (ESP-IDF allocates it from the heap at start-up)."""
        text = rodata = data = bss = 0
        sections: dict[str, int] = {}
        for sec in alloc_sections(elf):
            sections[sec.name] = sec.size
            if sec.nobits:
                bss += sec.size
            elif sec.name.startswith((".flash.text", ".iram0", ".iram")):
                text += sec.size
            elif sec.name.startswith((".dram0.data", ".data", ".rtc.data")):
                data += sec.size
            else:
                rodata += sec.size
        stack = esp32_context(board)["main_task_stack"]
        return SizeReport(board=board.id, text=text, rodata=rodata, data=data, bss=bss, stack=stack,
                          flash_size=board.flash.size, ram_size=board.ram.size, sections=sections)


__all__ = ["Esp32Family", "esp32_context", "ESP32_TARGETS"]
