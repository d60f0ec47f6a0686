"""Build a rendered firmware project and check that the image fits the board.

    result = build_project(project_dir, board, jobs=2)   # -> BuildResult
    result.elf, result.size.flash_used, result.size.ram_used, result.size.table()

STM32: ``cmake -G Ninja`` with the project's toolchain file, then ``cmake --build``.
ESP32: ``idf.py build`` (ESP-IDF must be installed and exported). Missing tools raise
:class:`~edgekit.errors.MissingToolError` with the install command. The ELF is then read
with pyelftools: flash = text + rodata + data (its load image), RAM = data + bss + stack
reserve; :class:`~edgekit.errors.FitError` when either exceeds the board's size. A link
that fails because a region overflowed is reported as a FitError too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.common.exceptions import ELFError

from edgekit.boards import Board
from edgekit.errors import EdgekitError, FitError, InputFileError, MissingToolError

STM32_TOOLS = {
    "cmake": "cmake",
    "ninja": "ninja-build",
    "arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
}
ESP_IDF_HINT = ("install ESP-IDF v5.x (https://docs.espressif.com/projects/esp-idf/en/stable/"
                "esp32/get-started/) and run `. $IDF_PATH/export.sh` so idf.py is on PATH")

# One call for every subprocess, so tests can capture the exact argv.
Runner = Callable[[Sequence[str], Path, Path], subprocess.CompletedProcess]


class BuildError(EdgekitError):
    """The compiler or linker failed (exit code 2, like other input errors)."""


@dataclass(frozen=True)
class SizeReport:
    """Memory use of a linked image against the board's regions (bytes)."""

    board: str
    text: int
    rodata: int
    data: int
    bss: int
    stack: int
    flash_size: int
    ram_size: int
    sections: dict[str, int] = field(default_factory=dict)

    @property
    def flash_used(self) -> int:
        return self.text + self.rodata + self.data

    @property
    def ram_used(self) -> int:
        return self.data + self.bss + self.stack

    @property
    def fits(self) -> bool:
        return self.flash_used <= self.flash_size and self.ram_used <= self.ram_size

    def table(self) -> str:
        """A small plain-text table: region, used, size, percent."""
        rows = [("region", "used", "size", "use"),
                ("flash", f"{self.flash_used:,}", f"{self.flash_size:,}",
                 f"{100 * self.flash_used / self.flash_size:.1f}%"),
                ("ram", f"{self.ram_used:,}", f"{self.ram_size:,}",
                 f"{100 * self.ram_used / self.ram_size:.1f}%")]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                           enumerate(zip(r, widths))) for r in rows]
        lines.append(f"flash = text {self.text:,} + rodata {self.rodata:,} + data {self.data:,}; "
                     f"ram = data {self.data:,} + bss {self.bss:,} + stack {self.stack:,}")
        return "\n".join(lines)


@dataclass(frozen=True)
class BuildResult:
    elf: Path
    build_dir: Path
    size: SizeReport
    log: Path


def _run(argv: Sequence[str], cwd: Path, log: Path) -> subprocess.CompletedProcess:
    with open(log, "ab") as fh:
        fh.write(("$ " + " ".join(argv) + "\n").encode())
        fh.flush()
        return subprocess.run(list(argv), cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                              check=False)


def require_tools(tools: dict[str, str]) -> None:
    """MissingToolError naming the first missing program and the apt-get line for all."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        packages = " ".join(dict.fromkeys(tools[t] for t in missing))
        raise MissingToolError(f"{missing[0]} not found on PATH (needed to build STM32 firmware)",
                               hint=f"install it: sudo apt-get install {packages}")


_OVERFLOW = re.compile(r"region [`']?(\w+)'? overflowed by (\d+) bytes")
_ASSERT = re.compile(r"edgekit: [^\n]*")
_COMPILER_ERROR = re.compile(r": (fatal )?error: |undefined reference to")
_CMAKE_ERROR = re.compile(r"^CMake Error")
_NINJA_FAILED = re.compile(r"^FAILED: ")


def _fail_from_log(log: Path, project_dir: Path, board: Board) -> EdgekitError:
    text = log.read_text(errors="replace")
    m = _OVERFLOW.search(text)
    if m:
        region, over = m.group(1), int(m.group(2))
        size = board.ram.size if region.upper() == "RAM" else board.flash.size
        return FitError(f"firmware for {board.id} does not fit: {region} overflowed by "
                        f"{over:,} bytes ({size:,} bytes available)",
                        hint="use a smaller model, a smaller stack, or a bigger board")
    m = _ASSERT.search(text)
    if m:
        return FitError(f"firmware for {board.id} does not fit: {m.group(0)}",
                        hint="use a smaller model, a smaller stack, or a bigger board")
    lines = text.splitlines()
    first = "see the log"
    for pattern in (_COMPILER_ERROR, _CMAKE_ERROR, _NINJA_FAILED):
        hit = next((i for i, ln in enumerate(lines) if pattern.search(ln)), None)
        if hit is not None:
            first = lines[hit].strip()
            if pattern is _CMAKE_ERROR:  # CMake puts the message itself on the indented lines after
                detail = [ln.strip() for ln in lines[hit + 1:hit + 4] if ln.startswith("  ") and ln.strip()]
                first = " ".join([first.rstrip(":")] + detail)
            break
    return BuildError(f"firmware build failed in {project_dir}: {first}",
                      hint=f"full log: {log}")


def read_size(elf: Path, board: Board) -> SizeReport:
    """Classify the ELF's allocated sections by name and address into flash and RAM use."""
    try:
        with open(elf, "rb") as fh:
            ef = ELFFile(fh)
            text = rodata = data = bss = stack = 0
            sections: dict[str, int] = {}
            for sec in ef.iter_sections():
                if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                    continue
                name, size = sec.name, int(sec["sh_size"])
                sections[name] = size
                nobits = sec["sh_type"] == "SHT_NOBITS"
                writable = bool(sec["sh_flags"] & SH_FLAGS.SHF_WRITE)
                executable = bool(sec["sh_flags"] & SH_FLAGS.SHF_EXECINSTR)
                if name in (".stack", ".heap_stack") or name.endswith(".stack"):
                    stack += size
                elif nobits:
                    bss += size
                elif writable:
                    data += size
                elif executable or name.startswith((".isr_vector", ".vectors")):
                    text += size
                else:
                    rodata += size
    except (OSError, ELFError) as exc:
        raise InputFileError(f"cannot read ELF {elf}: {exc}") from None
    return SizeReport(board=board.id, text=text, rodata=rodata, data=data, bss=bss, stack=stack,
                      flash_size=board.flash.size, ram_size=board.ram.size, sections=sections)


def check_fit(size: SizeReport) -> None:
    """FitError naming the region that overflows and by how much."""
    for region, used, total in (("flash", size.flash_used, size.flash_size),
                                ("RAM", size.ram_used, size.ram_size)):
        if used > total:
            raise FitError(f"firmware for {size.board} does not fit: {region} needs {used:,} "
                           f"bytes, the board has {total:,} ({used - total:,} too many)",
                           hint="use a smaller model, a smaller stack, or a bigger board")


def build_project(project_dir: Path, board: Board, *, build_dir: Path | None = None,
                  jobs: int = 2, tflm_dir: Path | None = None,
                  run: Runner = _run) -> BuildResult:
    """Configure and build the project; return the ELF and its size report (fit checked)."""
    project_dir = Path(project_dir).resolve()
    if not (project_dir / "CMakeLists.txt").is_file():
        raise InputFileError(f"{project_dir} has no CMakeLists.txt",
                             hint="render the project first: edgekit generate")
    build_dir = Path(build_dir).resolve() if build_dir else project_dir / "build"
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "edgekit-build.log"
    log.write_text("")
    if board.family == "stm32":
        require_tools(STM32_TOOLS)
        configure = ["cmake", "-G", "Ninja", "-S", str(project_dir), "-B", str(build_dir),
                     f"-DCMAKE_TOOLCHAIN_FILE={project_dir / 'cmake' / 'arm-none-eabi.cmake'}",
                     "-DCMAKE_BUILD_TYPE=Release"]
        if tflm_dir is not None:
            configure.append(f"-DTFLM_DIR={Path(tflm_dir).resolve()}")
        steps = [configure, ["cmake", "--build", str(build_dir), "-j", str(jobs)]]
        elf = build_dir / "firmware.elf"
    elif board.family == "esp32":
        if shutil.which("idf.py") is None:
            raise MissingToolError("idf.py not found on PATH (needed to build ESP32 firmware)",
                                   hint=ESP_IDF_HINT)
        steps = [["idf.py", "-C", str(project_dir), "-B", str(build_dir), "build"]]
        elf = None
    else:
        raise EdgekitError(f"board '{board.id}': cannot build family '{board.family}'")
    for argv in steps:
        proc = run(argv, project_dir, log)
        if proc.returncode != 0:
            raise _fail_from_log(log, project_dir, board)
    if elf is None:
        elf = _esp_idf_elf(build_dir)
    if not elf.is_file():
        raise BuildError(f"the build in {build_dir} produced no {elf.name}", hint=f"log: {log}")
    size = read_size(elf, board) if board.family == "stm32" else _esp32_size(elf, board)
    check_fit(size)
    return BuildResult(elf=elf, build_dir=build_dir, size=size, log=log)


def _esp_idf_elf(build_dir: Path) -> Path:
    desc = build_dir / "project_description.json"
    if desc.is_file():
        name = json.loads(desc.read_text()).get("app_elf")
        if name:
            return build_dir / name
    found = sorted(p for p in build_dir.glob("*.elf") if p.is_file())
    return found[0] if found else build_dir / "firmware.elf"


def _esp32_size(elf: Path, board: Board) -> SizeReport:
    """ESP-IDF images: flash-mapped text/rodata plus IRAM code and DRAM data, by section name."""
    try:
        with open(elf, "rb") as fh:
            ef = ELFFile(fh)
            text = rodata = data = bss = 0
            sections: dict[str, int] = {}
            for sec in ef.iter_sections():
                if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                    continue
                name, size = sec.name, int(sec["sh_size"])
                sections[name] = size
                if sec["sh_type"] == "SHT_NOBITS":
                    bss += size
                elif name.startswith((".flash.text", ".iram0", ".iram")):
                    text += size
                elif name.startswith((".dram0.data", ".data", ".rtc.data")):
                    data += size
                else:
                    rodata += size
    except (OSError, ELFError) as exc:
        raise InputFileError(f"cannot read ELF {elf}: {exc}") from None
    stack = int(board.esp32.get("main_task_stack", 8192))
    return SizeReport(board=board.id, text=text, rodata=rodata, data=data, bss=bss, stack=stack,
                      flash_size=board.flash.size, ram_size=board.ram.size, sections=sections)


__all__ = ["build_project", "read_size", "check_fit", "require_tools", "SizeReport",
           "BuildResult", "BuildError"]
