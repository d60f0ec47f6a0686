"""Every file of firmware_templates/common is copied into every project (STM32 src/, ESP32
main/), so each C file must compile warning-free on every target we have a compiler for, and
must need no symbol beyond the port contract (ek_port.h), the generated model, the other
common files and the compiler's own helpers."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.firmware_sources import COMMON, FAKE_MODEL

WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
TARGETS = {
    "gcc": ["gcc", "-O2"],
    "clang": ["clang", "-O2"],
    "cortex-m4f": ["arm-none-eabi-gcc", "-Os", "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16",
                   "-mfloat-abi=hard", "-ffreestanding"],
    "cortex-m7": ["arm-none-eabi-gcc", "-O2", "-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16",
                  "-mfloat-abi=hard", "-ffreestanding"],
    "rv32imc": ["riscv64-unknown-elf-gcc", "-Os", "-march=rv32imc", "-mabi=ilp32", "-ffreestanding"],
}
SOURCES = sorted(COMMON.glob("*.c"))
# The port contract: every function ek_port.h declares.
# The port contract's functions, as ek_port.h declares them.
PORT = set(re.findall(r"^\w[\w ]*?\b(ek_port_\w+)\(", (COMMON / "ek_port.h").read_text(), re.M))
MODEL = {"edgekit_model_init", "edgekit_model_reset", "edgekit_model_invoke"}


def _compile(target: str, out: Path) -> list[Path]:
    cc, *flags = TARGETS[target]
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    objs = []
    for src in SOURCES:
        obj = out / (src.stem + ".o")
        cmd = [cc, *WARN, *flags, f"-I{COMMON}", f"-I{FAKE_MODEL}", "-c", str(src), "-o", str(obj)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
        objs.append(obj)
    return objs


def _symbols(nm: str, objs: list[Path], undefined: bool) -> set[str]:
    args = [nm, "-u"] if undefined else [nm, "--defined-only", "-g"]
    r = subprocess.run([*args, *map(str, objs)], capture_output=True, text=True, check=True)
    return {ln.split()[-1] for ln in r.stdout.splitlines() if ln.strip() and ":" not in ln}


def test_the_new_files_are_there() -> None:
    names = {p.name for p in SOURCES}
    assert {"ek_app.c", "ek_stream.c", "ek_protocol.c", "ek_synth.c", "ek_lsm6dsl.c"} <= names


@pytest.mark.toolchain
@pytest.mark.parametrize("target", list(TARGETS))
def test_every_common_file_compiles_warning_free(target: str, tmp_path: Path) -> None:
    objs = _compile(target, tmp_path)
    if target in ("cortex-m4f", "cortex-m7"):
        # Freestanding: nothing from a C library, nothing a port does not define.
        defined = _symbols("arm-none-eabi-nm", objs, undefined=False)
        needed = _symbols("arm-none-eabi-nm", objs, undefined=True) - defined
        compiler = {s for s in needed if s.startswith("__aeabi_")}
        assert needed - compiler <= PORT | MODEL, needed - compiler - PORT - MODEL


def test_no_common_file_is_over_500_lines() -> None:
    for f in sorted(COMMON.iterdir()):
        assert len(f.read_text().splitlines()) <= 500, f.name
