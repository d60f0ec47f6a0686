"""STM32 firmware end to end: render -> build with arm-none-eabi-gcc -> run in QEMU -> talk
over the pty. Also: every STM32 board file builds, fits, and boots from its flash origin;
an image too big for the board is a FitError.

Builds happen once per board per session (session-scoped fixtures); the whole file runs in
well under a minute on two cores.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial
from elftools.elf.elffile import ELFFile

from edgekit.boards import load_board
from edgekit.errors import DeviceError, FitError, MissingToolError
from edgekit.project.build import BuildError, BuildResult, SizeReport, build_project
from edgekit.project.families import family_of, stm32_context
from edgekit.project.render import render_project
from edgekit.project.size import check_fit
from edgekit.sim.qemu import QemuBoard, VirtualBoard
from tests.firmware_sources import STM32_PORT_COMMON
from tests.project.line_app import FIXTURE, SHA, Link, render_test_app, running

STM32_BOARDS = ["qemu-netduinoplus2", "nucleo-f446re", "nucleo-l4r5zi", "nucleo-h743zi",
                "b-l475e-iot01a"]

needs_arm = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("arm-none-eabi-gcc", "cmake", "ninja")),
    reason="needs arm-none-eabi-gcc, cmake and ninja (apt-get install gcc-arm-none-eabi "
           "libnewlib-arm-none-eabi cmake ninja-build)")
needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None,
                                reason="needs qemu-system-arm (apt-get install qemu-system-arm)")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], BuildResult]:
    """build(board_id) -> BuildResult, building each board at most once per session."""
    cache: dict[str, BuildResult] = {}
    root = tmp_path_factory.mktemp("fw")

    def build(board_id: str) -> BuildResult:
        if board_id not in cache:
            project = render_test_app(board_id, root / board_id)
            cache[board_id] = build_project(project, jobs=2)
        return cache[board_id]

    return build


@pytest.fixture(scope="session")
def qemu_elf(built: Callable[[str], BuildResult]) -> Path:
    return built("qemu-netduinoplus2").elf


@pytest.fixture
def vboard(qemu_elf: Path) -> Iterator[tuple[VirtualBoard, Link]]:
    with running("qemu-netduinoplus2", qemu_elf) as both:
        yield both


# ------------------------------------------------------------------ virtual board
@pytest.mark.toolchain
@pytest.mark.qemu
@needs_arm
@needs_qemu
def test_hello_echo_and_exit_code(vboard: tuple[VirtualBoard, Link]) -> None:
    board, link = vboard
    assert link.ask("hello") == "hello edgekit qemu-netduinoplus2 model stub"
    assert link.ask("echo edgekit over a pty") == "edgekit over a pty"
    assert link.ask("hz") == "hz 1000000000"
    assert link.ask("float") == "float 3375"          # FPU enabled (else a NOCP fault)
    assert link.ask("model") == "model 0"
    assert link.ask("exit 7") == "bye"
    assert board.wait(timeout=10) == 7                # semihosting SYS_EXIT_EXTENDED
    assert board.exit_code == 7


def _cycles(elf: Path, loops: list[int]) -> list[int]:
    with QemuBoard(elf) as board:
        link = Link(board.pty or "")
        try:
            link.handshake()
            out = [int(link.ask(f"cycles {n}").split()[1]) for n in loops]
            link.ask("exit 0")
            assert board.wait(timeout=10) == 0
        finally:
            link.close()
    return out


@pytest.mark.toolchain
@pytest.mark.qemu
@needs_arm
@needs_qemu
def test_tim2_cycle_counts_are_deterministic(qemu_elf: Path) -> None:
    loops = [1000, 1000, 10000, 100000]
    first, second = _cycles(qemu_elf, loops), _cycles(qemu_elf, loops)
    assert first == second, "instruction counts must repeat run to run"
    assert first[0] == first[1]
    # One loop iteration is a fixed number of instructions: counts grow exactly linearly.
    per_iter = (first[2] - first[0]) // 9000
    assert per_iter > 0 and first[2] - first[0] == 9000 * per_iter
    assert first[3] - first[2] == 90000 * per_iter


@pytest.mark.toolchain
@pytest.mark.qemu
@needs_arm
@needs_qemu
def test_hardfault_prints_pc_and_exits(vboard: tuple[VirtualBoard, Link]) -> None:
    board, link = vboard
    link.port.write(b"fault\n")
    text = ""
    deadline = time.monotonic() + 10
    while "\n" not in text.strip("\r\n") and time.monotonic() < deadline:
        try:
            text += link.port.readline().decode(errors="replace")
        except serial.SerialException:
            break
        if "exc_return" in text:
            break
    m = re.search(r"fault: exception 0x00000003 \(HardFault\) pc=0x(0800[0-9a-f]{4}) "
                  r"lr=0x[0-9a-f]{8} cfsr=0x00010000", text)
    assert m, text                                    # CFSR.UNDEFINSTR from the udf
    assert board.wait(timeout=10) == 3                # EK_EXIT_FAULT


@pytest.mark.toolchain
@pytest.mark.qemu
@needs_arm
@needs_qemu
def test_synthetic_sensors_and_millis(vboard: tuple[VirtualBoard, Link]) -> None:
    _, link = vboard
    accel = [int(v) for v in link.ask("sensor 0").split()[1:]]
    assert accel[0] == 3 and len(accel) == 4
    assert all(abs(v) <= 2500 for v in accel[1:])
    vib = [int(v) for v in link.ask("sensor 1").split()[1:]]
    assert vib[0] == 1 and abs(vib[1]) <= 600
    assert link.ask("sensor 9") == "sensor -1"        # no such sensor
    t0 = int(link.ask("millis").split()[1])
    time.sleep(0.3)
    t1 = int(link.ask("millis").split()[1])
    assert 250 <= t1 - t0 <= 3000, (t0, t1)           # host time via semihosting SYS_ELAPSED


@pytest.mark.toolchain
@pytest.mark.qemu
@needs_arm
@needs_qemu
def test_qemu_is_stopped_on_exceptions(qemu_elf: Path) -> None:
    board = QemuBoard(qemu_elf)
    with pytest.raises(RuntimeError, match="boom"):
        with board:
            pid = board._proc.pid if board._proc else -1
            raise RuntimeError("boom")
    assert not board.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert board.stop() is None                       # a second stop is harmless


@pytest.mark.toolchain
@pytest.mark.qemu
@needs_arm
@needs_qemu
def test_qemu_wait_timeout_is_a_device_error(qemu_elf: Path) -> None:
    with QemuBoard(qemu_elf) as board:
        with pytest.raises(DeviceError, match="did not exit"):
            board.wait(timeout=0.2)
    assert board.exit_code is None                    # stopped by edgekit, not a firmware exit


def test_missing_qemu_is_a_clear_error(tmp_path: Path) -> None:
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"\x7fELF")
    with pytest.raises(MissingToolError, match="qemu-system-nonexistent not found") as exc:
        QemuBoard(elf, qemu="qemu-system-nonexistent").start()
    assert "sudo apt-get install -y qemu-system-arm" in str(exc.value)


def test_qemu_argv_is_the_documented_one() -> None:
    argv = QemuBoard.for_board(load_board("qemu-netduinoplus2"), Path("fw.elf")).argv
    assert argv == ["qemu-system-arm", "-M", "netduinoplus2", "-icount", "shift=0", "-nographic",
                    "-monitor", "none", "-serial", "pty", "-semihosting-config",
                    "enable=on,target=native", "-kernel", "fw.elf"]


# ------------------------------------------------------------------ every STM32 board
@pytest.mark.toolchain
@needs_arm
@pytest.mark.parametrize("board_id", STM32_BOARDS)
def test_board_builds_fits_and_boots_from_flash_origin(
        board_id: str, built: Callable[[str], BuildResult]) -> None:
    board = load_board(board_id)
    result = built(board_id)
    size = result.size
    assert size.fits and 0 < size.flash_used < board.flash.size
    assert size.stack == 8192 and size.ram_used >= size.stack
    with open(result.elf, "rb") as fh:
        elf = ELFFile(fh)
        vectors = elf.get_section_by_name(".isr_vector")
        assert vectors["sh_addr"] == board.flash.origin
        initial_sp, reset = (int.from_bytes(vectors.data()[i:i + 4], "little") for i in (0, 4))
        entry = elf.header["e_entry"]
        # The console's receive interrupt sits at its NVIC slot (16 system vectors first).
        irq = stm32_context(board)["console"]["irq"]
        slot = int.from_bytes(vectors.data()[4 * (16 + irq):4 * (17 + irq)], "little")
        handler = elf.get_section_by_name(".symtab").get_symbol_by_name("ek_console_irq_handler")[0]
        assert slot == handler["st_value"] | 1
    ram_end = board.ram.origin + board.ram.size
    assert board.ram.origin < initial_sp <= ram_end and initial_sp % 8 == 0
    assert reset == entry | 1                          # Thumb bit set
    assert board.flash.origin <= entry < board.flash.origin + board.flash.size
    assert (result.build_dir / "firmware.bin").is_file()
    assert (result.build_dir / "firmware.map").is_file()
    table = size.table()
    assert "flash" in table and "ram" in table and f"{board.flash.size:,}" in table


@pytest.mark.toolchain
@needs_arm
def test_too_big_for_ram_is_a_fit_error(tmp_path: Path) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    text = (Path(load_board("qemu-netduinoplus2").source)).read_text()
    text = text.replace('id = "qemu-netduinoplus2"', 'id = "tiny-ram"')
    text = text.replace("size = 0x3_0000", "size = 0x1000")  # 4 KiB RAM < 8 KiB stack
    (boards / "tiny-ram.toml").write_text(text)
    project = render_test_app("tiny-ram", tmp_path / "fw", boards_dir=boards)
    with pytest.raises(FitError, match=r"tiny-ram does not fit: RAM overflowed by [\d,]+ bytes"):
        build_project(project)


def test_fit_check_names_the_region() -> None:
    size = SizeReport(board="b", text=900, rodata=200, data=10, bss=0, stack=0,
                      flash_size=1024, ram_size=4096)
    with pytest.raises(FitError, match=r"flash needs 1,110 bytes, the board has 1,024 \(86 too many\)"):
        check_fit(size)
    check_fit(SizeReport(board="b", text=100, rodata=0, data=0, bss=0, stack=512,
                         flash_size=1024, ram_size=512))


def test_build_commands_are_the_documented_ones(tmp_path: Path) -> None:
    family = family_of(load_board("qemu-netduinoplus2"))
    fw, build = tmp_path / "fw", tmp_path / "fw" / "build"
    assert family.build_commands(fw, build, jobs=3) == [
        ["cmake", "-G", "Ninja", "-S", str(fw), "-B", str(build),
         f"-DCMAKE_TOOLCHAIN_FILE={fw}/cmake/arm-none-eabi.cmake", "-DCMAKE_BUILD_TYPE=Release"],
        ["cmake", "--build", str(build), "-j", "3"]]
    tflm = {"TFLM_DIR": str(tmp_path / "tflm")}   # a runtime's CMake entries come last
    assert family.build_commands(fw, build, defines=tflm)[0][-1] == f"-DTFLM_DIR={tmp_path / 'tflm'}"
    assert family.elf_path(build) == build / "firmware.elf"
    assert family.tools == ("cmake", "ninja", "arm-none-eabi-gcc")


def test_build_runs_the_family_commands_through_one_call(tmp_path: Path, monkeypatch) -> None:
    """Every command goes through `run` (tests capture it); a failing step is a BuildError."""
    project = render_test_app("qemu-netduinoplus2", tmp_path / "fw")
    monkeypatch.setattr("edgekit.project.build.require", lambda *names, needed_for=None: {})
    seen: list[list[str]] = []

    def run(argv, cwd: Path, log: Path) -> subprocess.CompletedProcess:
        seen.append(list(argv))
        log.write_text("main.c:3:1: error: expected ';'\n")
        return subprocess.CompletedProcess(argv, 1)

    with pytest.raises(BuildError, match="main.c:3:1: error: expected ';'"):
        build_project(project, run=run, jobs=1)
    assert seen == family_of(project.board).build_commands(
        project.root.resolve(), project.build_dir.resolve(), jobs=1)[:1]


def test_missing_toolchain_names_the_apt_package(tmp_path: Path, monkeypatch) -> None:
    project = render_test_app("qemu-netduinoplus2", tmp_path / "fw")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingToolError, match="not found on PATH") as exc:
        build_project(project)
    assert "sudo apt-get install" in str(exc.value)


# ------------------------------------------------------------------ the real portable core
@pytest.mark.toolchain
@pytest.mark.qemu
@needs_arm
@needs_qemu
def test_portable_core_runs_on_the_virtual_board(tmp_path: Path) -> None:
    """The protocol endpoint of firmware_templates/common on this port, driven by edgekit.hil."""
    session_mod = pytest.importorskip("edgekit.hil.session")
    board = load_board("qemu-netduinoplus2")
    project = render_project(
        board, tmp_path / "fw",
        model_sources={n: (FIXTURE / n).read_text() for n in ("edgekit_model.h", "edgekit_model.c")},
        context={"model_sha256": SHA})
    elf = build_project(project).elf
    with QemuBoard.for_board(board, elf) as vb:
        with session_mod.Session(vb.pty) as s:
            info = s.connect()
            assert info.board_id == "qemu-netduinoplus2" and info.cycles_hz == 1_000_000_000
            assert s.echo(b"edgekit") == b"edgekit"
            runs = s.bench(1, 3)
            assert len(set(runs)) == 1                 # instruction counts: deterministic
            s.reset(exit_firmware=True, code=9)
        assert vb.wait(timeout=10) == 9


@pytest.mark.toolchain
@needs_arm
def test_compile_error_is_one_clear_line(tmp_path: Path) -> None:
    board = load_board("qemu-netduinoplus2")
    project = render_project(
        board, tmp_path / "fw",
        model_sources={n: (FIXTURE / n).read_text() for n in ("edgekit_model.h", "edgekit_model.c")},
        extra_sources={"ek_app.c": (FIXTURE / "ek_app.c").read_text(),
                       "broken.c": "int broken(void) { return missing; }\n"},
        context={"model_sha256": SHA}, common_files=list(STM32_PORT_COMMON))
    with pytest.raises(BuildError) as exc:
        build_project(project)
    msg = str(exc.value)
    assert "\n" not in msg and "broken.c:1:" in msg and "'missing' undeclared" in msg
    assert "edgekit-build.log" in msg and exc.value.exit_code == 2
