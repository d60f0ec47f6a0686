"""`edgekit sim start|stop`: a virtual board in the background (edgekit.sim.background)."""

from __future__ import annotations

from pathlib import Path

import click

from edgekit.cli.support import boards_dirs_option, json_option, print_json
from edgekit.console import err, out


@click.group()
def sim() -> None:
    """The virtual board (QEMU) in the background: start prints its serial pty."""


@sim.command("start")
@click.argument("board_id")
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@boards_dirs_option
@json_option
def sim_start(board_id: str, project_dir: Path, boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Start BOARD_ID (a virtual board) with PROJECT_DIR's built firmware.

    \b
    stdout gets the serial port alone, for scripts:  PORT=$(edgekit sim start B DIR)
    stderr gets the sentence for people; --json prints pid, port, log and QEMU's argv.
    """
    from edgekit.project.manifest import open_project
    from edgekit.sim.background import start_background

    state = start_background(open_project(project_dir, boards_dirs=boards_dirs, board_id=board_id))
    err.print(f"virtual board running (pid {state.pid}), serial port: {state.pty}; "
              f"stop it with: edgekit sim stop {board_id} {project_dir}", markup=False)
    if as_json:
        print_json(state.to_dict())
    else:
        click.echo(state.pty)


@sim.command("stop")
@click.argument("board_id")
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@boards_dirs_option
def sim_stop(board_id: str, project_dir: Path, boards_dirs: tuple[Path, ...]) -> None:
    """Stop the virtual board started for PROJECT_DIR."""
    from edgekit.project.manifest import open_project
    from edgekit.sim.background import stop_background

    state = stop_background(open_project(project_dir, boards_dirs=boards_dirs, board_id=board_id))
    out.print(f"stopped pid {state.pid}" if state else f"no virtual board was running for {project_dir}")
