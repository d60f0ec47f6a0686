"""Boards are data: every shipped file loads, bad files are named precisely, users add boards."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.boards import BOARDS_ENV, DEFAULT_BOARD, list_boards, load_board, parse_board
from edgekit.errors import BoardError
from tests.conftest import REPO, assert_clean_error

REQUIRED_BOARDS = {"nucleo-f446re", "nucleo-l4r5zi", "nucleo-h743zi", "b-l475e-iot01a", "esp32-devkitc",
                   "esp32-s3-devkitc-1", "esp32-c3-devkitm-1", "qemu-netduinoplus2", "qemu-riscv32"}


def test_every_board_file_loads() -> None:
    files = sorted((REPO / "boards").glob("*.toml"))
    ids = {parse_board(f).id for f in files}
    assert REQUIRED_BOARDS <= ids
    assert {b.id for b in list_boards()} >= ids


@pytest.mark.parametrize("board_id", sorted(REQUIRED_BOARDS))
def test_board_facts_are_plausible(board_id: str) -> None:
    b = load_board(board_id)
    assert b.max_clock_hz >= 1_000_000
    assert b.flash.size >= 64 * 1024 and b.ram.size >= 16 * 1024
    assert b.runners, "a board needs at least one flash runner"
    if b.family == "stm32":
        assert b.flash.origin == 0x0800_0000
        assert b.core.startswith("cortex-m")
    elif b.family == "riscv":
        assert b.virtual and b.core == "riscv32imc"
    else:
        assert b.esp32["target"].startswith("esp32")
    if not b.virtual:
        assert b.usb_ids is not None, "real boards name their probe's USB VID/PID for port detection"


def test_virtual_board_matches_qemu_facts() -> None:
    b = load_board(DEFAULT_BOARD)
    assert b.virtual and b.mcu.startswith("STM32F405")
    assert (b.flash.size, b.ram.size, b.ram.origin) == (1024 * 1024, 192 * 1024, 0x2000_0000)
    assert b.max_clock_hz == 168_000_000 and b.console["uart"] == "USART1"
    assert b.clock["source"] == "none"


def test_b_l475e_iot01a_lists_its_sensors() -> None:
    b = load_board("b-l475e-iot01a")
    kinds = {s.kind for s in b.sensors}
    assert "accelerometer" in kinds


GOOD = (REPO / "boards" / "qemu-netduinoplus2.toml").read_text()


def _write(tmp_path: Path, text: str, name: str = "qemu-netduinoplus2") -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("edit, field, why", [
    (lambda s: s.replace('family = "stm32"', 'family = "avr"'), "family", "expected one of"),
    (lambda s: s.replace("max_clock_hz = 168_000_000", 'max_clock_hz = "fast"'), "max_clock_hz", "must be an integer"),
    (lambda s: s.replace("size = 0x3_0000", "size = 0"), "memory.ram.size", "greater than 0"),
    (lambda s: s.replace('core = "cortex-m4f"\n', ""), "core", "is missing"),
    (lambda s: s.replace('kind = "tim2"', 'kind = "rdtsc"'), "cycle_counter.kind", "expected one of"),
    (lambda s: s.replace("baud = 115200", "baud = true"), "console.baud", "not a boolean"),
    # The family's checks run on load too: what generate would refuse, loading refuses.
    (lambda s: s.replace('uart = "USART1"', 'uart = "USART7"'), "console.uart", "expected one of USART1"),
    (lambda s: s.replace('kind = "tim2"', 'kind = "esp_cpu"'), "cycle_counter.kind", "is for ESP32 boards"),
    (lambda s: s.replace('id = "accel"', 'id = "3d-accel"'), "sensors[0].id", "not a C identifier"),
])
def test_invalid_field_is_named(tmp_path: Path, edit, field: str, why: str) -> None:
    path = _write(tmp_path, edit(GOOD))
    with pytest.raises(BoardError) as exc:
        parse_board(path)
    msg = str(exc.value)
    assert str(path) in msg and f"'{field}'" in msg and why in msg


def test_id_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(BoardError, match="must match"):
        parse_board(_write(tmp_path, GOOD, name="other"))


def test_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(BoardError, match="not valid TOML"):
        parse_board(_write(tmp_path, "id = [unclosed"))


def test_user_boards_dir_adds_and_overrides(tmp_path: Path, monkeypatch) -> None:
    custom = GOOD.replace('id = "qemu-netduinoplus2"', 'id = "my-board"').replace(
        'name = "Netduino Plus 2 in QEMU (virtual STM32F405)"', 'name = "My board"')
    _write(tmp_path, custom, name="my-board")
    assert load_board("my-board", [tmp_path]).name == "My board"
    monkeypatch.setenv(BOARDS_ENV, str(tmp_path))
    assert "my-board" in {b.id for b in list_boards()}
    # A user file with a shipped id takes precedence over the shipped one.
    _write(tmp_path, GOOD.replace("(virtual STM32F405)", "(mine)"))
    assert load_board("qemu-netduinoplus2").name.endswith("(mine)")


def test_unknown_board_lists_known_ones() -> None:
    with pytest.raises(BoardError) as exc:
        load_board("nucleo-nope")
    assert "nucleo-f446re" in str(exc.value) and "--boards-dir" in str(exc.value)


def test_cli_boards(cli, tmp_path: Path) -> None:
    r = cli("boards", "list")
    assert r.returncode == 0 and "nucleo-h743zi" in r.stdout
    r = cli("boards", "show", "b-l475e-iot01a")
    assert r.returncode == 0 and "STM32L475" in r.stdout
    assert_clean_error(cli("boards", "show", "nope"), 2, "unknown board 'nope'")
    bad = _write(tmp_path, GOOD.replace("size = 0x3_0000", "size = -1"))
    assert_clean_error(cli("boards", "--boards-dir", tmp_path, "list"), 2, str(bad), "memory.ram.size")
    bad = _write(tmp_path, GOOD.replace('uart = "USART1"', 'uart = "USART7"'))
    assert_clean_error(cli("boards", "--boards-dir", tmp_path, "list"), 2, str(bad), "console.uart")


@pytest.mark.parametrize("where", ["before", "after"])
def test_boards_dir_is_taken_before_or_after_the_subcommand(cli, tmp_path: Path, where: str) -> None:
    """`edgekit boards show ID --boards-dir D` (as every other command takes it) and
    `edgekit boards --boards-dir D show ID` both find the user's board."""
    text = (REPO / "boards" / "nucleo-f446re.toml").read_text().replace('id = "nucleo-f446re"', 'id = "my-board"')
    (tmp_path / "my-board.toml").write_text(text)
    for sub in (["show", "my-board"], ["list"]):
        args = ["boards", "--boards-dir", tmp_path, *sub] if where == "before" else \
            ["boards", *sub, "--boards-dir", tmp_path]
        r = cli(*args, "--json")
        assert r.returncode == 0, r.stderr
        assert "my-board" in r.stdout
