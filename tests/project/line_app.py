"""The line-protocol test app (tests/fixtures/stm32_app/ek_app.c) rendered for a board with a
stand-in model, and the host side of its protocol: commands hello | echo <text> | cycles <n> |
hz | millis | sensor <id> | float | model | fault | exit <code>, one line each way. It uses only
the port contract (ek_port.h), so it runs on every bare-metal family's virtual board."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import serial

from edgekit.boards import load_board
from edgekit.project.manifest import Project
from edgekit.project.render import render_project
from edgekit.sim.qemu import VirtualBoard
from tests.firmware_sources import STM32_PORT_COMMON

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stm32_app"
SHA = "5eed" * 16


def render_test_app(board_id: str, out: Path, boards_dir: Path | None = None,
                    **context: object) -> Project:
    """The test app (tests/fixtures/stm32_app) with a stand-in model, for one board."""
    board = load_board(board_id, [boards_dir] if boards_dir else [])
    return render_project(
        board, out,
        model_sources={n: (FIXTURE / n).read_text() for n in ("edgekit_model.h", "edgekit_model.c")},
        extra_sources={"ek_app.c": (FIXTURE / "ek_app.c").read_text()},
        context={"model_sha256": SHA, **context}, common_files=list(STM32_PORT_COMMON))


class Link:
    """Line-oriented talk with the test app over the QEMU pty."""

    def __init__(self, pty: str) -> None:
        self.port = serial.serial_for_url(pty, baudrate=115200, timeout=2)

    def handshake(self, attempts: int = 40) -> str:
        # Bytes sent before the firmware enables its USART are lost: retry until it answers.
        self.port.timeout = 0.25
        for _ in range(attempts):
            self.port.write(b"hello\n")
            line = self.port.readline().decode(errors="replace")
            if line.startswith("hello "):
                # Earlier hellos may still be answered: sync on a unique echo.
                self.port.timeout = 5
                self.port.write(b"echo sync-42\n")
                for _ in range(attempts + 1):
                    if self.port.readline().strip() == b"sync-42":
                        return line.strip()
                raise AssertionError("no answer to the sync echo")
        raise AssertionError("the firmware never answered the handshake")

    def ask(self, command: str) -> str:
        self.port.write(command.encode() + b"\n")
        line = self.port.readline().decode(errors="replace")
        assert line.endswith("\n"), f"no answer to {command!r} (got {line!r})"
        return line.strip()

    def close(self) -> None:
        self.port.close()


@contextmanager
def running(board_id: str, elf: Path) -> Iterator[tuple[VirtualBoard, Link]]:
    """The test app `elf` running on the virtual board `board_id`, past the handshake."""
    with VirtualBoard.for_board(load_board(board_id), elf) as board:
        link = Link(board.pty or "")
        try:
            link.handshake()
            yield board, link
        finally:
            link.close()
