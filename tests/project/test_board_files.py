"""Every board file in boards/ loads, and every one renders: its clock tree, console and
memory are consistent enough for the templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.boards import list_boards, parse_board
from edgekit.project.families import esp32_context, riscv_context, stm32_context

BOARDS_DIR = Path(__file__).resolve().parents[2] / "boards"
FILES = sorted(BOARDS_DIR.glob("*.toml"))


def test_boards_dir_has_the_shipped_boards() -> None:
    assert {f.stem for f in FILES} >= {
        "qemu-netduinoplus2", "nucleo-f446re", "nucleo-l4r5zi", "nucleo-h743zi", "b-l475e-iot01a",
        "esp32-devkitc", "esp32-s3-devkitc-1", "esp32-c3-devkitm-1", "qemu-riscv32"}
    assert {b.id for b in list_boards()} >= {f.stem for f in FILES}


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_board_file_loads_and_derives(path: Path) -> None:
    board = parse_board(path)
    assert board.cycle_counter.get("hz", board.clock["sysclk_hz"]) == (
        1_000_000_000 if board.virtual else board.clock["sysclk_hz"])
    if board.family == "stm32":
        ctx = stm32_context(board)
        assert ctx["clock"]["sysclk"] <= board.max_clock_hz
        if not board.virtual:
            assert board.usb_ids and board.usb_ids[0] == 0x0483   # ST-LINK VCP
            assert ctx["console"]["tx"]["name"] and ctx["console"]["af"] > 0
            assert board.cycle_counter["kind"] == "dwt"
    elif board.family == "riscv":
        ctx = riscv_context(board)
        assert board.virtual and ctx["march"] == "rv32imc" and board.cycle_counter["kind"] == "mcycle"
        assert board.flash.origin == 0x8000_0000 < board.ram.origin
    else:
        ctx = esp32_context(board)
        assert ctx["cpu_mhz"] * 1_000_000 == board.max_clock_hz
        assert board.cycle_counter["kind"] == "esp_cpu"
        assert board.runners[0].name == "esptool" and ctx["target"] in board.runners[0].args


def test_b_l475e_iot01a_sensors_have_bus_and_address() -> None:
    board = parse_board(BOARDS_DIR / "b-l475e-iot01a.toml")
    by_id = {s.id: s for s in board.sensors}
    assert by_id["accel"].part == "LSM6DSL"
    assert by_id["accel"].extra == {"bus": "I2C2", "address": 0x6A, "interrupt": "PD11", "scl": "PB10",
                                    "sda": "PB11", "af": 4, "bus_hz": 400_000, "full_scale": 2}
    assert by_id["gyro"].part == "LSM6DSL" and by_id["gyro"].extra["address"] == 0x6A
    assert by_id["magnetometer"].part == "LIS3MDL" and by_id["magnetometer"].extra["address"] == 0x1E
    assert {s.extra["bus"] for s in board.sensors} <= {"I2C2", "DFSDM1"}
