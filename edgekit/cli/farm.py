"""`edgekit farm up|status|down`: the virtual labgrid farm (edgekit.farm.virtual); and the options
hil, stream and complete take to run on a farm's place (--place, --farm, --tags, --farm-timeout,
--no-flash)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from edgekit.cli.support import boards_dirs_option, json_option, print_json
from edgekit.console import err, out
from edgekit.farm.virtual import SERIAL_MODES

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.farm.place import FarmTarget

COORDINATOR_ENV = "LG_COORDINATOR"   # labgrid's own variable, so its tools and edgekit agree


def farm_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--place, --farm, --tags, --farm-timeout and --no-flash (parameters place, farm, tags,
    farm_timeout, no_flash); turn them into a target with :func:`farm_target`."""
    for option in reversed((
        click.option("--place", help="Run on this labgrid place (locked for the run, then released)."),
        click.option("--farm", metavar="HOST:PORT",
                     help=f"labgrid coordinator [default: ${COORDINATOR_ENV}, else 127.0.0.1:20408]."),
        click.option("--tags", multiple=True, metavar="KEY=VALUE",
                     help="Run on a place with these labgrid tags (repeatable), e.g. board=nucleo-f446re."),
        click.option("--farm-timeout", type=click.FloatRange(min=0), default=300, show_default=True,
                     help="Seconds to wait in labgrid's queue for a free place."),
        click.option("--no-flash", is_flag=True, help="Use the firmware already on the place's board."),
    )):
        f = option(f)
    return f


def farm_target(place: str | None, farm: str | None, tags: tuple[str, ...], timeout: float,
                port: str | None = None) -> FarmTarget | None:
    """The farm target the options name, or None when they name none (a local or virtual board)."""
    if place is None and farm is None and not tags:
        return None
    from edgekit.errors import UsageError

    if port is not None:
        raise UsageError("--port and a farm place both name the board", hint="pass one of them")
    from edgekit.farm.client import DEFAULT_COORDINATOR
    from edgekit.farm.place import FarmTarget

    parsed: dict[str, str] = {}
    for item in (t for text in tags for t in text.replace(",", " ").split()):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"--tags {item!r} is not KEY=VALUE", hint="e.g. --tags board=nucleo-f446re")
        parsed[key] = value
    coordinator = farm or os.environ.get(COORDINATOR_ENV) or DEFAULT_COORDINATOR
    return FarmTarget(coordinator, place, parsed, timeout)


def waiting(line: str) -> None:
    """A progress line while waiting for a place (stderr)."""
    err.print(line, highlight=False, markup=False)


@click.group()
def farm() -> None:
    """A virtual labgrid farm of QEMU boards on loopback, for tests and for trying farm runs without boards."""


_dir_option = click.option("--dir", "state_dir", type=click.Path(file_okay=False, path_type=Path),
                           help="The farm's state directory [default: a per-user one in the temp dir].")


@farm.command("up")
@click.argument("count", type=click.IntRange(min=1, max=64))
@click.option("--board", "board_id", default="qemu-netduinoplus2", show_default=True, help="Virtual board id.")
@click.option("--project", "project_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Start every board with this built project's firmware [default: none until flashed].")
@click.option("--port", "coordinator_port", type=click.IntRange(1, 65535), default=20408, show_default=True,
              help="The coordinator's port (on 127.0.0.1).")
@click.option("--baud", type=click.IntRange(min=0),
              help="Carry each console at this rate, as a UART would [default: the board file's; 0: unpaced].")
@click.option("--serial", type=click.Choice(SERIAL_MODES), default=SERIAL_MODES[0], show_default=True,
              help="Who serves the consoles: the farm's own ser2net, always on (a lab's console server), or "
                   "labgrid's exporter, starting one when a place is acquired (as for a USB serial port).")
@_dir_option
@boards_dirs_option
@json_option
def farm_up(count: int, board_id: str, project_dir: Path | None, coordinator_port: int, baud: int | None,
            serial: str, state_dir: Path | None, boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Start COUNT virtual boards as labgrid places (coordinator, exporter, ser2net: all on 127.0.0.1)."""
    from edgekit.boards import load_board
    from edgekit.errors import UsageError
    from edgekit.farm.virtual import FarmConfig, start_farm
    from edgekit.project.manifest import open_project

    board = load_board(board_id, boards_dirs)
    if not board.virtual:
        raise UsageError(f"board '{board_id}' is not a virtual board", hint="use e.g. qemu-netduinoplus2")
    elf = None
    if project_dir is not None:
        project = open_project(project_dir, board=board)
        project.check_build()
        elf = str(project.built_elf().resolve())
    state = start_farm(FarmConfig(count, board.id, coordinator_port, elf, baud=baud, serial=serial), state_dir)
    if as_json:
        print_json(state.to_dict())
        return
    out.print(f"virtual farm up: {count} places on labgrid coordinator {state.coordinator}", markup=False)
    for p in state.places:
        out.print(f"  {p.name}  tags board={p.board} farm=virtual name={p.name}", markup=False)
    out.print(f"use: edgekit hil DIR --farm {state.coordinator} --tags board={board.id} --boards {count}; "
              f"stop: edgekit farm down" + (f" --dir {state_dir}" if state_dir else ""), markup=False)


@farm.command("status")
@_dir_option
@json_option
def farm_status(state_dir: Path | None, as_json: bool) -> None:
    """The virtual farm's places and each board's QEMU."""
    from edgekit.errors import UsageError
    from edgekit.farm.virtual import FarmState, board_status, default_dir

    state = FarmState.read(state_dir or default_dir())
    if state is None:
        raise UsageError(f"no virtual farm runs from {state_dir or default_dir()}", hint="edgekit farm up N")
    boards = board_status(state)
    if as_json:
        print_json({**state.to_dict(), "boards": boards})
        return
    from rich.table import Table

    t = Table(title=f"virtual farm: coordinator {state.coordinator} (pid {state.pid})")
    for col in ("place", "console pty", "QEMU pid", "running"):
        t.add_column(col, no_wrap=True)
    for b in boards:
        t.add_row(b["name"], b["pty"], str(b["qemu_pid"] or "-"), "yes" if b["running"] else "no")
    out.print(t)


@farm.command("down")
@_dir_option
def farm_down(state_dir: Path | None) -> None:
    """Stop the virtual farm: boards, exporter, ser2net and coordinator."""
    from edgekit.farm.virtual import default_dir, stop_farm

    state = stop_farm(state_dir)
    out.print(f"stopped the virtual farm of {state.coordinator} (pid {state.pid})" if state
              else f"no virtual farm was running from {state_dir or default_dir()}", markup=False)
