"""`edgekit flash`: flash a built project with one of its board's runners (edgekit.runners)."""

from __future__ import annotations

from pathlib import Path

import click

from edgekit.cli.support import boards_dirs_option
from edgekit.console import print_command


@click.command()
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--runner", help="Flash runner [default: the board's first one whose tool is installed].")
@click.option("--port", help="Serial port (ESP32 runners).")
@click.option("--dry-run", is_flag=True, help="Print the exact commands instead of running them.")
@boards_dirs_option
def flash(project_dir: Path, runner: str | None, port: str | None, dry_run: bool,
          boards_dirs: tuple[Path, ...]) -> None:
    """Flash a built project onto its board."""
    from edgekit.project.manifest import open_project
    from edgekit.runners import Executor, FlashImage, make_runner

    project = open_project(project_dir, boards_dirs=boards_dirs)
    project.check_build()   # never flash an image older than the sources
    image = FlashImage(project.elf_path, project.build_dir)
    chosen = make_runner(project.board, runner, Executor(dry_run=dry_run, echo=print_command),
                         port)
    chosen.flash(image)
