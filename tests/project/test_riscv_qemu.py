"""The RISC-V virtual board (qemu-riscv32: RV32IMC, the ESP32-C3's ISA, on QEMU's virt machine):
its port end to end with the line test app (render -> riscv64-unknown-elf-gcc -> QEMU -> pty),
its fault reporter on the host and on the board, and what its family says of TFLM."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from elftools.elf.elffile import ELFFile

from edgekit.boards import load_board
from edgekit.project.build import build_project
from edgekit.project.families import family_of
from edgekit.sim.qemu import VirtualBoard
from tests.conftest import assert_clean_error, run_cli
from tests.firmware_sources import COMMON, TEMPLATES, build_sanitized
from tests.project.line_app import Link, render_test_app, running

BOARD = "qemu-riscv32"
RISCV_SRC = TEMPLATES / "riscv" / "src"


@pytest.fixture(scope="module")
def elf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_project(render_test_app(BOARD, tmp_path_factory.mktemp("rv") / "fw")).elf


@pytest.fixture
def vboard(elf: Path) -> Iterator[tuple[VirtualBoard, Link]]:
    with running(BOARD, elf) as both:
        yield both


def test_the_virtual_board_runs_in_qemu_system_riscv32_without_atomics_or_floats(tmp_path: Path) -> None:
    argv = VirtualBoard.for_board(load_board(BOARD), tmp_path / "fw.elf").argv
    assert argv == ["qemu-system-riscv32", "-M", "virt", "-cpu", "rv32,a=false,f=false,d=false", "-bios", "none",
                    "-icount", "shift=0", "-nographic", "-monitor", "none", "-serial", "pty",
                    "-semihosting-config", "enable=on,target=native", "-kernel", str(tmp_path / "fw.elf")]


@pytest.mark.toolchain
def test_the_image_is_rv32imc_and_starts_at_the_flash_origin(elf: Path) -> None:
    board = load_board(BOARD)
    with open(elf, "rb") as fh:
        image = ELFFile(fh)
        assert image.elfclass == 32 and image.header["e_machine"] == "EM_RISCV"
        assert image.header["e_entry"] == board.flash.origin
        flags = image.header["e_flags"]
    assert flags & 0x1 and not flags & 0x6   # RVC, soft-float ABI (EF_RISCV_RVC, FLOAT_ABI = 0)


@pytest.mark.toolchain
@pytest.mark.qemu
def test_hello_sensors_millis_and_exit_code(vboard: tuple[VirtualBoard, Link]) -> None:
    board, link = vboard
    assert link.ask("hello") == f"hello edgekit {BOARD} model stub"
    assert link.ask("hz") == "hz 1000000000"
    assert link.ask("float") == "float 3375"          # software floating point (no F extension)
    assert link.ask("model") == "model 0"
    accel = [int(v) for v in link.ask("sensor 0").split()[1:]]
    assert accel[0] == 3 and all(abs(v) <= 2500 for v in accel[1:])
    assert link.ask("sensor 9") == "sensor -1"
    t0 = int(link.ask("millis").split()[1])
    time.sleep(0.3)
    assert 250 <= int(link.ask("millis").split()[1]) - t0 <= 3000   # host time via semihosting
    assert link.ask("exit 7") == "bye"
    assert board.wait(timeout=10) == 7                # semihosting SYS_EXIT_EXTENDED


@pytest.mark.toolchain
@pytest.mark.qemu
def test_mcycle_counts_instructions_deterministically(elf: Path) -> None:
    def cycles() -> list[int]:
        with running(BOARD, elf) as (_, link):
            return [int(link.ask(f"cycles {n}").split()[1]) for n in (1000, 10000, 100000)]

    first, second = cycles(), cycles()
    assert first == second
    per_iter = (first[1] - first[0]) // 9000
    assert per_iter > 0 and first[1] - first[0] == 9000 * per_iter and first[2] - first[1] == 90000 * per_iter


@pytest.mark.toolchain
@pytest.mark.qemu
def test_a_trap_prints_one_line_and_exits_3(vboard: tuple[VirtualBoard, Link]) -> None:
    board, link = vboard
    link.port.write(b"fault\n")
    text, deadline = "", time.monotonic() + 10
    while not re.search(r"edgekit: fault: [^\n]*\n", text) and time.monotonic() < deadline:
        try:
            text += link.port.read(link.port.in_waiting or 1).decode(errors="replace")
        except serial.SerialException:
            break
    assert re.search(r"edgekit: fault: mcause=0x00000002 mepc=0x8[0-9a-f]{7} mtval=0x[0-9a-f]{8} "
                     r"sp=0x8[0-9a-f]{7} \(illegal instruction\)", text), text
    assert board.wait(timeout=10) == 3                # EK_EXIT_FAULT


def test_the_fault_message_on_the_host(tmp_path: Path) -> None:
    main = tmp_path / "main.c"
    main.write_text('#include <stdio.h>\n#include "ek_fault_riscv.h"\n'
                    "int main(void) {\n"
                    "    ek_fault_info_t info = {5u, 0x80000124u, 0x10u, 0x803fffe0u};\n"
                    "    char buf[EK_FAULT_MESSAGE_MAX];\n"
                    "    size_t n = ek_fault_format(buf, sizeof buf, &info);\n"
                    "    char small[16];\n"
                    "    ek_fault_format(small, sizeof small, &info);\n"
                    '    printf("%zu|%s|%s\\n", n, buf, small);\n'
                    "    return 0;\n}\n")
    exe = build_sanitized(tmp_path / "fault", [main, RISCV_SRC / "ek_fault_riscv.c", COMMON / "ek_text.c"],
                          [RISCV_SRC, COMMON])
    out = subprocess.run([str(exe)], capture_output=True, text=False, check=True).stdout.decode()
    n, message, small = out.removesuffix("\n").split("|")
    assert message == ("\r\nedgekit: fault: mcause=0x00000005 mepc=0x80000124 mtval=0x00000010 sp=0x803fffe0 "
                       "(load access fault)\r\n")                 # one line, "\r\n" around it
    assert int(n) == len(message) and small == message[:15]        # truncated, never overrun


def test_tflm_is_refused_on_this_family_in_one_line(tmp_path: Path) -> None:
    sine = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "sine.tflite"
    r = run_cli("generate", sine, "--board", BOARD, "-o", tmp_path / "fw", "--runtime", "tflm")
    assert_clean_error(r, 4, "tflm cannot build for qemu-riscv32", "no C++ standard library")
    assert not (tmp_path / "fw").exists()
    assert family_of(load_board(BOARD)).tflm.source == "none"
    r = run_cli("inspect", sine, "--board", BOARD, "--json")   # and inspect shows no tflm fit there
    assert r.returncode == 0, r.stderr
    assert [f["runtime"] for f in json.loads(r.stdout)["fits"]] == ["edgekit-rt"]
