"""pytest plugin (entry point pytest11 "edgekit"): a `dut` fixture talking to a board.

    pytest --edgekit-board nucleo-f446re --edgekit-port /dev/ttyACM0
    pytest -n 4 --edgekit-board nucleo-f446re --edgekit-farm lab:20408 --edgekit-tags board=nucleo-f446re

On a labgrid farm each process (each pytest-xdist worker) locks its own place for the session,
waiting in labgrid's queue, and releases it at the end: a test never shares a board with another job.

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
    group.addoption("--edgekit-farm", default=None, metavar="HOST:PORT",
                    help="labgrid coordinator: the dut is a place of this farm (one per xdist worker)")
    group.addoption("--edgekit-tags", action="append", default=[], metavar="KEY=VALUE",
                    help="labgrid tags the dut's place must have (repeatable)")


def pytest_configure(config: pytest.Config) -> None:
    """Register the `hardware` marker."""
    config.addinivalue_line(
        "markers", "hardware: needs a physical board (skipped unless --edgekit-port or EDGEKIT_HIL=1)")


def _forced() -> bool:
    return os.environ.get(FORCE_ENV, "") not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `hardware` tests unless a port is given or EDGEKIT_HIL forces them on."""
    if config.getoption("--edgekit-port") or config.getoption("--edgekit-farm") or _forced():
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


@pytest.fixture(scope="session")
def edgekit_place(pytestconfig: pytest.Config) -> Iterator[str | None]:
    """The serial URL of this process's labgrid place (--edgekit-farm), locked for the session; None
    without a farm."""
    farm = pytestconfig.getoption("--edgekit-farm")
    if not farm:
        yield None
        return
    from edgekit.farm.place import FarmTarget, acquired

    tags = dict(t.split("=", 1) for text in pytestconfig.getoption("--edgekit-tags") for t in text.split() if "=" in t)
    with acquired(FarmTarget(farm, tags=tags)) as [place]:
        yield place.serial_url


@pytest.fixture()
def dut(pytestconfig: pytest.Config, edgekit_board: Board, edgekit_place: str | None) -> Iterator[Session]:
    """A connected edgekit.hil.session.Session (handshake done), closed after the test."""
    from edgekit.hil.ports import find_port
    from edgekit.hil.session import Session

    port = (edgekit_place or pytestconfig.getoption("--edgekit-port")
            or find_port(edgekit_board, option="--edgekit-port"))
    baud = pytestconfig.getoption("--edgekit-baud") or edgekit_board.baud
    session = Session(port, baudrate=baud)
    session.connect()
    try:
        yield session
    finally:
        session.close()
