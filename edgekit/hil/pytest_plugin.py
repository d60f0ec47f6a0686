"""pytest plugin (entry point pytest11 "edgekit"): a `dut` fixture talking to a board.

    pytest --edgekit-board nucleo-f446re --edgekit-port /dev/ttyACM0

Tests marked `hardware` need a physical board: they are skipped unless --edgekit-port is
given or EDGEKIT_HIL=1 forces them on (then the port is found from the board's USB ids, and a
missing board fails the test instead of skipping it silently).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.boards import Board
    from edgekit.hil.session import Session

FORCE_ENV = "EDGEKIT_HIL"


def pytest_addoption(parser: pytest.Parser) -> None:
    """--edgekit-board, --edgekit-port, --edgekit-baud."""
    group = parser.getgroup("edgekit", "edgekit hardware-in-the-loop")
    group.addoption("--edgekit-board", default=os.environ.get("EDGEKIT_BOARD"),
                    help="board id for the dut fixture (env EDGEKIT_BOARD)")
    group.addoption("--edgekit-port", default=os.environ.get("EDGEKIT_PORT"),
                    help="serial port or URL of the board (env EDGEKIT_PORT); default: found by USB id")
    group.addoption("--edgekit-baud", type=int, default=None, help="baud rate [default: the board file's]")


def pytest_configure(config: pytest.Config) -> None:
    """Register the `hardware` marker."""
    config.addinivalue_line(
        "markers", "hardware: needs a physical board (skipped unless --edgekit-port or EDGEKIT_HIL=1)")


def _forced() -> bool:
    return os.environ.get(FORCE_ENV, "") not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `hardware` tests unless a port is given or EDGEKIT_HIL forces them on."""
    if config.getoption("--edgekit-port") or _forced():
        return
    skip = pytest.mark.skip(reason=f"needs a board: pass --edgekit-port or set {FORCE_ENV}=1")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def edgekit_board(pytestconfig: pytest.Config) -> Board:
    """The Board named by --edgekit-board."""
    from edgekit.boards import load_board

    board_id = pytestconfig.getoption("--edgekit-board")
    if not board_id:
        pytest.fail("the dut fixture needs --edgekit-board (or EDGEKIT_BOARD)")
    return load_board(board_id)


@pytest.fixture()
def dut(pytestconfig: pytest.Config, edgekit_board: Board) -> Iterator[Session]:
    """A connected edgekit.hil.session.Session (handshake done), closed after the test."""
    from edgekit.hil.ports import find_port
    from edgekit.hil.session import Session

    port = pytestconfig.getoption("--edgekit-port") or find_port(edgekit_board, option="--edgekit-port")
    baud = pytestconfig.getoption("--edgekit-baud") or edgekit_board.baud
    session = Session(port, baudrate=baud)
    session.connect()
    try:
        yield session
    finally:
        session.close()
