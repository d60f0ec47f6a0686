"""Everywhere a project meets a board (hil --board, stream --board with --project, sim start),
a project generated for another board is refused before anything runs: exit 2, one line
naming both boards, nothing blamed on the link."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from edgekit.boards import load_board
from edgekit.errors import UsageError
from edgekit.hil.board_link import open_session
from edgekit.project.manifest import open_project
from tests.conftest import assert_clean_error

VIRTUAL = "qemu-netduinoplus2"
NUCLEO = "nucleo-f446re"


@pytest.fixture(scope="module")
def nucleo_project(tmp_path_factory) -> Path:
    """The sine model generated (not built) for a NUCLEO board."""
    from tests.conftest import sine_project

    return sine_project(tmp_path_factory.mktemp("nucleo") / "fw", NUCLEO, build=False)


def _both(r) -> None:
    assert_clean_error(r, 2, f"'{NUCLEO}'", f"'{VIRTUAL}'")
    assert "link" not in r.stderr and "answer" not in r.stderr


def test_sim_start_refuses_another_boards_project(cli, nucleo_project: Path) -> None:
    _both(cli("sim", "start", VIRTUAL, nucleo_project, timeout=120))
    assert not (nucleo_project / "build" / "sim.json").exists()


def test_hil_board_option_must_be_the_projects(cli, nucleo_project: Path) -> None:
    _both(cli("hil", nucleo_project, "--board", VIRTUAL, "--runs", "0", timeout=120))


def test_stream_project_of_another_board_is_not_blamed_on_the_link(cli, nucleo_project: Path,
                                                                   tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    r = cli("stream", "--board", VIRTUAL, "--project", nucleo_project, "--sensor", "accel", "--rate", "10",
            "--seconds", "1", "-o", out, timeout=120)
    _both(r)
    assert not out.exists()


def test_open_session_checks_the_projects_board(nucleo_project: Path) -> None:
    project = open_project(nucleo_project)
    with ExitStack() as stack, pytest.raises(UsageError) as exc:
        open_session(stack, load_board(VIRTUAL), port=None, project=project)
    assert NUCLEO in str(exc.value) and VIRTUAL in str(exc.value)


def test_sim_of_a_physical_board_is_usage_not_device(nucleo_project: Path) -> None:
    from edgekit.sim.qemu import QemuBoard

    with pytest.raises(UsageError, match="not a virtual board"):
        QemuBoard.for_board(load_board(NUCLEO), nucleo_project / "build" / "firmware.elf")
