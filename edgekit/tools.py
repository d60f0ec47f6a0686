"""The external tools edgekit uses: one registry with how to find and install each.

`edgekit doctor` lists them; build, the flash runners and the virtual board call
:func:`require` so a missing program is always reported the same way, with its install line.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal

from edgekit.errors import MissingToolError

APT = "sudo apt-get install -y"


@dataclass(frozen=True)
class Tool:
    """A program on PATH or an importable Python package."""

    name: str                              # program name or Python module name
    kind: Literal["program", "python"]
    needed_for: str                        # a verb phrase: "build STM32 firmware"
    install: str                           # the command (or instruction) that installs it
    required: bool = False                 # the default pipeline (virtual board) needs it

    def find(self) -> str | None:
        """Path of the program or module, or None when it is not installed."""
        if self.kind == "python":
            spec = importlib.util.find_spec(self.name)
            return (spec.origin or self.name) if spec else None
        return shutil.which(self.name)


_TOOLS: tuple[Tool, ...] = (
    Tool("tensorflow", "python", "train and quantize models", "pip install tensorflow", True),
    Tool("tflite_micro", "python", "run the exact TFLM reference (Linux x86_64 only)", "pip install tflite-micro",
         True),
    Tool("ai_edge_litert", "python", "run the fallback int8 interpreter", "pip install ai-edge-litert", True),
    Tool("arm-none-eabi-gcc", "program", "build STM32 firmware",
         f"{APT} gcc-arm-none-eabi libnewlib-arm-none-eabi", True),
    Tool("cmake", "program", "build STM32 firmware", f"{APT} cmake", True),
    Tool("ninja", "program", "build STM32 firmware", f"{APT} ninja-build", True),
    Tool("qemu-system-arm", "program", "run the virtual board (qemu-netduinoplus2)", f"{APT} qemu-system-arm", True),
    Tool("qemu-system-riscv32", "program", "run the RISC-V virtual board (qemu-riscv32)", f"{APT} qemu-system-misc"),
    Tool("gcc", "program", "build generated C on the host (tests)", f"{APT} gcc"),
    Tool("clang", "program", "fuzz the protocol parser", f"{APT} clang"),
    Tool("riscv64-unknown-elf-gcc", "program", "build RISC-V firmware (rv32imc, the ESP32-C3's ISA)",
         f"{APT} gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf"),
    Tool("arm-none-eabi-objcopy", "program", "convert an ELF to a raw binary (st-flash runner)",
         f"{APT} binutils-arm-none-eabi"),
    Tool("openocd", "program", "flash STM32 boards (openocd runner)", f"{APT} openocd"),
    Tool("st-flash", "program", "flash STM32 boards (st-flash runner)", f"{APT} stlink-tools"),
    Tool("pyocd", "program", "flash STM32 boards (pyocd runner)", "pip install pyocd"),
    Tool("STM32_Programmer_CLI", "program", "flash STM32 boards (ST's programmer)",
         "install STM32CubeProgrammer from st.com and put its bin/ on PATH"),
    Tool("idf.py", "program", "build and flash ESP32 firmware",
         "install ESP-IDF v5.x (https://docs.espressif.com/projects/esp-idf/en/stable/esp32/get-started/) "
         "and run `. $IDF_PATH/export.sh` so idf.py is on PATH"),
    Tool("esptool", "python", "flash ESP32 boards", "pip install esptool"),
)
TOOLS: dict[str, Tool] = {t.name: t for t in _TOOLS}


def tool(name: str) -> Tool:
    """The registered tool called `name` (KeyError for a name edgekit does not know: a bug)."""
    return TOOLS[name]


def require(*names: str, needed_for: str | None = None) -> dict[str, str]:
    """{name: path} of every tool; MissingToolError naming the first missing one and the
    install line for all that are missing."""
    found = {name: tool(name).find() for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        first = tool(missing[0])
        why = needed_for or first.needed_for
        installs = list(dict.fromkeys(tool(m).install for m in missing))
        apt = [i[len(APT):].strip() for i in installs if i.startswith(APT)]
        others = [i for i in installs if not i.startswith(APT)]
        hint = "; ".join(([f"install it: {APT} {' '.join(apt)}"] if apt else []) + others)
        where = "not installed" if first.kind == "python" else "not found on PATH"
        raise MissingToolError(f"{first.name} {where} (needed to {why})", hint=hint)
    return {name: str(path) for name, path in found.items()}


@dataclass(frozen=True)
class Check:
    """One tool of the registry, looked for on this machine (`edgekit doctor`)."""

    tool: Tool
    found: bool
    detail: str  # version line or path


def _version_line(program: str) -> str:
    try:
        proc = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0][:80] if text else ""


def check(t: Tool) -> Check:
    """Look for one tool; programs also report their version line."""
    where = t.find()
    if where is None:
        return Check(t, False, "")
    return Check(t, True, where if t.kind == "python" else (_version_line(where) or where))


def run_checks() -> list[Check]:
    """Every tool edgekit knows, in the registry's order."""
    return [check(t) for t in TOOLS.values()]


__all__ = ["Check", "Tool", "TOOLS", "check", "require", "run_checks", "tool"]
