"""Firmware projects: render templates for a board, build them, check that they fit.

    from edgekit.project import render_project, build_project
    out = render_project(board, Path("fw"), model_sources=..., context={"model_sha256": ...})
    result = build_project(out, board)      # result.elf, result.size.table()
"""

from edgekit.project.build import BuildError, BuildResult, SizeReport, build_project, check_fit, read_size
from edgekit.project.render import collect_files, read_manifest, render_project

__all__ = ["render_project", "collect_files", "read_manifest", "build_project", "check_fit",
           "read_size", "BuildError", "BuildResult", "SizeReport"]
