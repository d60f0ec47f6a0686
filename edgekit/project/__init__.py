"""Firmware projects: render templates for a board, build them, check that they fit.

    from edgekit.project import render_project, build_project
    project = render_project(board, Path("fw"), model_sources=..., context={"model_sha256": ...})
    result = build_project(project)          # result.elf, result.size.table()

A generated project is a :class:`Project` (its manifest and board, see
:mod:`edgekit.project.manifest`); what differs between MCU families lives in
:mod:`edgekit.project.families`. The names below load on first use: loading a board file
imports the families, and that must not pull in Jinja and the ELF reader.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "build_project": "build", "BuildError": "build", "BuildResult": "build", "read_size": "build",
    "FAMILIES": "families", "BoardFamily": "families", "family_of": "families",
    "Manifest": "manifest", "Project": "manifest", "open_project": "manifest", "read_manifest": "manifest",
    "collect_files": "render", "render_project": "render",
    "SizeReport": "size", "check_fit": "size",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'edgekit.project' has no attribute '{name}'")
    return getattr(import_module(f"edgekit.project.{_EXPORTS[name]}"), name)
