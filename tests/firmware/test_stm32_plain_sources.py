"""The STM32 port's plain C files (firmware_templates/stm32/src/*.c, copied verbatim into every
STM32 project): each compiles warning-free for every Cortex-M core the boards use, the fault
reporter needs only what the port provides, and its message (formatted by plain C that runs
on the host too, under ASan/UBSan) is the one tests/project/test_stm32_qemu.py reads from a
real fault."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.firmware_sources import COMMON, STM32_SRC, build_sanitized

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "fault_format"
WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
CORES = {
    "cortex-m4f": ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
    "cortex-m7fd": ["-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"],
}
SOURCES = sorted(STM32_SRC.glob("*.c"))
needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")


def _compile_arm(core: str, out: Path) -> dict[str, Path]:
    objs = {}
    for src in SOURCES:
        obj = out / (src.stem + ".o")
        cmd = ["arm-none-eabi-gcc", *WARN, "-O2", *CORES[core], f"-I{COMMON}", f"-I{STM32_SRC}",
               "-c", str(src), "-o", str(obj)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
        objs[src.stem] = obj
    return objs


def _nm(obj: Path, *args: str) -> set[str]:
    r = subprocess.run(["arm-none-eabi-nm", *args, str(obj)], capture_output=True, text=True, check=True)
    return {ln.split()[-1] for ln in r.stdout.splitlines() if ln.strip()}


def test_the_plain_files_are_there() -> None:
    assert {p.name for p in SOURCES} >= {"ek_i2c_v2.c", "ek_gpio_stm32.c", "ek_fault_cortexm.c", "ek_cortexm.c"}
    for f in STM32_SRC.iterdir():
        assert len(f.read_text().splitlines()) <= 500, f.name
        if f.suffix != ".j2":   # templates get their first line from render
            assert f.read_text().startswith("/* "), f"{f.name}: no header comment"


@pytest.mark.toolchain
@needs_arm
@pytest.mark.parametrize("core", list(CORES))
def test_plain_files_compile_for_every_core(core: str, tmp_path: Path) -> None:
    objs = _compile_arm(core, tmp_path)
    fault = objs["ek_fault_cortexm"]
    assert {"ek_fault_entry", "ek_fault_format", "ek_fault_report"} <= _nm(fault, "--defined-only")
    assert _nm(fault, "-u") == {"ek_fault_console_ready", "ek_port_uart_write", "ek_port_exit", "ek_text_init",
                                "ek_text_put", "ek_text_hex", "ek_text_end"}
    # The I2C master and GPIO helpers reach the hardware only through registers and the
    # port's cycle counter.
    assert _nm(objs["ek_i2c_v2"], "-u") == {"ek_port_cycles", "ek_gpio_af", "ek_gpio_open_drain_output",
                                            "ek_gpio_read", "ek_gpio_write"}
    assert _nm(objs["ek_gpio_stm32"], "-u") == set()


def test_host_build_has_the_formatter_only(tmp_path: Path) -> None:
    """On a host compiler the ARM-only half is left out; the formatter stays."""
    if shutil.which("gcc") is None:
        pytest.skip("needs a host gcc")
    obj = tmp_path / "fault.o"
    subprocess.run(["gcc", *WARN, "-pedantic", f"-I{COMMON}", "-c", str(STM32_SRC / "ek_fault_cortexm.c"), "-o",
                    str(obj)],
                   check=True, capture_output=True)
    syms = subprocess.run(["nm", "--defined-only", str(obj)], capture_output=True, text=True).stdout
    assert "ek_fault_format" in syms and "ek_fault_entry" not in syms


@pytest.fixture(scope="module")
def fault_format(tmp_path_factory: pytest.TempPathFactory):
    exe = build_sanitized(tmp_path_factory.mktemp("fault") / "fault_format",
                          [STM32_SRC / "ek_fault_cortexm.c", COMMON / "ek_text.c", FIXTURE / "main.c"],
                          [STM32_SRC, COMMON])

    def run(ipsr: int, size: int = 176) -> tuple[int, str]:
        args = [f"{v:x}" for v in (ipsr, 0x0800_1234, 0x0800_0F01, 0x0001_0000, 0x4000_0000, 0xE000_EDF8,
                                   0xE000_EDF8, 0xFFFF_FFF9)]
        out = subprocess.run([str(exe), *args, str(size)], capture_output=True, text=True, check=True).stdout
        length, text = out.rstrip("\n").split(" ", 1)
        return int(length), text.strip("|").replace("\\r", "\r").replace("\\n", "\n")

    return run


def test_fault_message_is_the_one_the_qemu_test_reads(fault_format) -> None:
    length, text = fault_format(3)
    assert text == ("\r\nedgekit: fault: exception 0x00000003 (HardFault) pc=0x08001234 lr=0x08000f01 "
                    "cfsr=0x00010000 hfsr=0x40000000 bfar=0xe000edf8 mmfar=0xe000edf8 "
                    "exc_return=0xfffffff9\r\n")
    assert length == len(text)
    # The pattern tests/project/test_stm32_qemu.py matches on the console of a faulting board.
    assert re.search(r"fault: exception 0x00000003 \(HardFault\) pc=0x(0800[0-9a-f]{4}) "
                     r"lr=0x[0-9a-f]{8} cfsr=0x00010000", text)


@pytest.mark.parametrize("ipsr, name", [(2, "(system)"), (15, "(system)"), (16, "(unexpected IRQ)"),
                                        (0x1234, "(unexpected IRQ)")])
def test_fault_names_the_exception(fault_format, ipsr: int, name: str) -> None:
    _, text = fault_format(ipsr)
    assert f"exception 0x{ipsr & 0x1FF:08x} {name} pc=" in text


def test_longest_message_fits_the_buffer_and_small_buffers_truncate(fault_format) -> None:
    length, text = fault_format(16)                      # the longest exception name
    assert length == len(text) and length + 1 <= 176     # EK_FAULT_MESSAGE_MAX
    for size in (1, 10, length, length + 1):
        n, cut = fault_format(16, size)
        assert n == length and cut == text[:min(size - 1, length)]
    assert fault_format(16, 0)[0] == length              # size 0: length only, nothing written
