"""`edgekit doctor`: which toolchains, flashers and Python packages are present."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass

APT = "sudo apt-get install -y"


@dataclass(frozen=True)
class Requirement:
    name: str
    kind: str  # "program" or "python"
    needed_for: str
    install: str
    required: bool = False  # needed by the default pipeline (virtual board)


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("tensorflow", "python", "train, quantize", "pip install tensorflow", True),
    Requirement("tflite_micro", "python", "exact TFLM reference (Linux x86_64 only)", "pip install tflite-micro", True),
    Requirement("ai_edge_litert", "python", "fallback int8 interpreter", "pip install ai-edge-litert", True),
    Requirement("arm-none-eabi-gcc", "program", "build STM32 firmware",
                f"{APT} gcc-arm-none-eabi libnewlib-arm-none-eabi", True),
    Requirement("cmake", "program", "build STM32 firmware", f"{APT} cmake", True),
    Requirement("ninja", "program", "build STM32 firmware", f"{APT} ninja-build", True),
    Requirement("qemu-system-arm", "program", "virtual board (qemu-netduinoplus2)", f"{APT} qemu-system-arm", True),
    Requirement("gcc", "program", "host build of generated C (tests)", f"{APT} gcc"),
    Requirement("clang", "program", "fuzzing the protocol parser", f"{APT} clang"),
    Requirement("riscv64-unknown-elf-gcc", "program", "compile check for ESP32-C3 (rv32imc)",
                f"{APT} gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf"),
    Requirement("openocd", "program", "flash STM32 boards (openocd runner)", f"{APT} openocd"),
    Requirement("st-flash", "program", "flash STM32 boards (stlink runner)", f"{APT} stlink-tools"),
    Requirement("pyocd", "program", "flash STM32 boards (pyocd runner)", "pip install pyocd"),
    Requirement("STM32_Programmer_CLI", "program", "flash STM32 boards (ST's programmer)",
                "install STM32CubeProgrammer from st.com"),
    Requirement("idf.py", "program", "build ESP32 firmware", "install ESP-IDF >= 5.1 and source export.sh"),
    Requirement("esptool", "python", "flash ESP32 boards", "pip install esptool"),
)


@dataclass
class Check:
    requirement: Requirement
    found: bool
    detail: str  # version line or path


def _version_line(program: str) -> str:
    try:
        proc = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0][:80] if text else ""


def check(req: Requirement) -> Check:
    if req.kind == "python":
        spec = importlib.util.find_spec(req.name)
        return Check(req, spec is not None, spec.origin or "" if spec else "")
    path = shutil.which(req.name)
    return Check(req, path is not None, _version_line(path) or path if path else "")


def run_checks() -> list[Check]:
    return [check(r) for r in REQUIREMENTS]
