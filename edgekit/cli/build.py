"""`edgekit build`: build a generated project and check its fit (edgekit.project.build)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from edgekit.cli.support import boards_dirs_option, json_option, print_json, tflm_dir_option
from edgekit.console import out, step

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.project.build import BuildResult


@click.command()
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@tflm_dir_option("TFLM source tree (create_tflm_tree.py) for tflm projects; else the one given to generate")
@click.option("-j", "--jobs", type=int, default=2, show_default=True)
@boards_dirs_option
@json_option
def build(project_dir: Path, tflm_dir: Path | None, jobs: int, boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Build a generated project and check that it fits its board."""
    from edgekit.project.build import build_project
    from edgekit.project.manifest import open_project
    from edgekit.runtimes.base import RuntimeOptions

    project = open_project(project_dir, boards_dirs=boards_dirs)
    with step(f"building {project_dir} for {project.board.id}") as note:
        result = build_project(project, jobs=jobs, options=RuntimeOptions((tflm_dir,) if tflm_dir else ()),
                               on_progress=lambda what, done, total: note(f"{what} {done}/{total}"))
    if as_json:
        print_json(build_dict(result))
        return
    out.print(result.size.table())
    out.print(f"image: {result.elf}")


def build_dict(r: BuildResult) -> dict[str, Any]:
    """`edgekit build --json`: the image, its log, and its size against the board's memory."""
    size = r.size
    return {"elf": str(r.elf), "build_dir": str(r.build_dir), "log": str(r.log),
            "size": {**asdict(size), "flash_used": size.flash_used, "ram_used": size.ram_used, "fits": size.fits}}
