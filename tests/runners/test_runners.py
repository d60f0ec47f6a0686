"""Flash runners build the exact command lines; vendor tools are faked by recording scripts."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from edgekit.boards import load_board
from edgekit.errors import DeviceError, MissingToolError, UsageError
from edgekit.runners import Executor, FlashImage, make_runner
from edgekit.runners import esptool as esptool_runner


def _fake_tool(bin_dir: Path, name: str, log: Path, exit_code: int = 0) -> None:
    """A stand-in for a vendor flasher that records its argv (one JSON list per call)."""
    script = bin_dir / name
    script.write_text(f"""#!/usr/bin/env python3
import json, sys
with open({str(log)!r}, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
if {exit_code}:
    print("Error: no ST-LINK detected", file=sys.stderr)
sys.exit({exit_code})
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.fixture()
def fake_path(tmp_path: Path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


@pytest.fixture()
def image(tmp_path: Path) -> FlashImage:
    build = tmp_path / "build"
    build.mkdir()
    (build / "firmware.elf").write_bytes(b"\x7fELF fake")
    return FlashImage(build / "firmware.elf", build)


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_openocd_command_line(fake_path: Path, image: FlashImage, tmp_path: Path) -> None:
    log = tmp_path / "log"
    _fake_tool(fake_path, "openocd", log)
    runner = make_runner(load_board("nucleo-f446re"), None, Executor(echo=lambda s: None))
    assert runner.name == "openocd"  # first in the board's order of preference
    runner.flash(image)
    assert _calls(log) == [["-f", "board/st_nucleo_f4.cfg", "-c", f"program {image.elf} verify reset exit"]]


@pytest.mark.toolchain
def test_pyocd_and_stflash_and_cubeprogrammer(fake_path: Path, image: FlashImage, tmp_path: Path) -> None:
    board = load_board("nucleo-f446re")
    log = tmp_path / "log"
    for tool in ("pyocd", "st-flash", "arm-none-eabi-objcopy", "STM32_Programmer_CLI"):
        _fake_tool(fake_path, tool, log)
    args = {r.name: list(r.args) for r in board.runners}
    make_runner(board, "pyocd", Executor(echo=lambda s: None)).flash(image)
    make_runner(board, "st-flash", Executor(echo=lambda s: None)).flash(image)
    make_runner(board, "stm32cubeprogrammer", Executor(echo=lambda s: None)).flash(image)
    bin_path = str(image.elf.with_suffix(".bin"))
    assert _calls(log) == [
        ["flash", *args["pyocd"], "--format", "elf", str(image.elf)],
        ["reset", *args["pyocd"]],
        ["-O", "binary", str(image.elf), bin_path],
        [*args["st-flash"], "write", bin_path, "0x08000000"],
        [*args["stm32cubeprogrammer"], "-w", str(image.elf), "-v", "-rst"],
    ]


def test_failing_flasher_is_a_device_error(fake_path: Path, image: FlashImage, tmp_path: Path) -> None:
    _fake_tool(fake_path, "openocd", tmp_path / "log", exit_code=1)
    with pytest.raises(DeviceError, match=r"openocd flash failed \(exit 1\): Error: no ST-LINK detected"):
        make_runner(load_board("nucleo-f446re"), "openocd", Executor(echo=lambda s: None)).flash(image)


def test_missing_tool_names_the_install(monkeypatch, image: FlashImage) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingToolError, match="apt-get install -y openocd"):
        make_runner(load_board("nucleo-f446re"), "openocd", Executor())
    with pytest.raises(MissingToolError, match="no flash tool for board 'nucleo-h743zi'"):
        make_runner(load_board("nucleo-h743zi"), None, Executor())


def test_dry_run_prints_exact_commands(image: FlashImage, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    lines: list[str] = []
    runner = make_runner(load_board("nucleo-h743zi"), "openocd", Executor(dry_run=True, echo=lines.append))
    runner.flash(image)
    assert lines == [f"would run: openocd -f board/st_nucleo_h743zi.cfg -c 'program {image.elf} verify reset exit'"]


def test_unknown_runner_for_board() -> None:
    with pytest.raises(UsageError, match="has no runner 'esptool'"):
        make_runner(load_board("nucleo-f446re"), "esptool", Executor(dry_run=True))


def test_esptool_in_process_argv(image: FlashImage, monkeypatch) -> None:
    (image.build_dir / "bootloader").mkdir()
    for rel in ("bootloader/bootloader.bin", "partition_table/partition-table.bin", "edgekit.bin"):
        (image.build_dir / rel).parent.mkdir(exist_ok=True)
        (image.build_dir / rel).write_bytes(b"\xe9")
    (image.build_dir / "flasher_args.json").write_text(json.dumps({
        "write_flash_args": ["--flash_mode", "dio", "--flash_size", "4MB", "--flash_freq", "80m"],
        "flash_files": {"0x10000": "edgekit.bin", "0x0": "bootloader/bootloader.bin",
                        "0x8000": "partition_table/partition-table.bin"},
        "extra_esptool_args": {"after": "hard_reset", "before": "default_reset", "chip": "esp32c3"},
    }))
    seen: list[list[str]] = []
    monkeypatch.setattr(esptool_runner, "_esptool_main", lambda: seen.append)
    board = load_board("esp32-c3-devkitm-1")
    make_runner(board, "esptool", Executor(echo=lambda s: None), port="/dev/ttyACM0").flash(image)
    board_args = list(next(r.args for r in board.runners if r.name == "esptool"))
    b = image.build_dir
    assert seen == [[*board_args, "--port", "/dev/ttyACM0", "--before", "default_reset", "--after", "hard_reset",
                     "write_flash", "--flash_mode", "dio", "--flash_size", "4MB", "--flash_freq", "80m",
                     "0x0", str(b / "bootloader/bootloader.bin"),
                     "0x8000", str(b / "partition_table/partition-table.bin"),
                     "0x10000", str(b / "edgekit.bin")]]


def test_esptool_needs_a_port(image: FlashImage, monkeypatch) -> None:
    monkeypatch.setattr(esptool_runner, "_esptool_main", lambda: (lambda argv: None))
    with pytest.raises(UsageError, match="needs the serial port"):
        make_runner(load_board("esp32-devkitc"), "esptool", Executor()).flash(image)


def test_missing_image(tmp_path: Path, fake_path: Path) -> None:
    _fake_tool(fake_path, "openocd", tmp_path / "log")
    from edgekit.errors import InputFileError

    with pytest.raises(InputFileError, match="run `edgekit build` first"):
        make_runner(load_board("nucleo-f446re"), "openocd", Executor()).flash(
            FlashImage(tmp_path / "none.elf", tmp_path))
