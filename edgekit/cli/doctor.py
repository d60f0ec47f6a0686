"""`edgekit doctor`: which toolchains, flashers and Python packages are present (edgekit.tools)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click
from rich.table import Table

from edgekit.cli.support import json_option, print_json
from edgekit.console import out
from edgekit.errors import MissingToolError
from edgekit.tools import Check, run_checks

WIDE_DOCTOR = 110   # from this terminal width the table shows what each tool is needed for


@click.command()
@click.option("--strict", is_flag=True, help="Exit 4 when a tool the default pipeline needs is missing.")
@json_option
def doctor(strict: bool, as_json: bool) -> None:
    """Which toolchains, flashers and Python packages are present, with install hints."""
    checks = run_checks()
    if as_json:
        print_json(doctor_dict(checks))
    else:
        out.print(doctor_table(checks, out.width))
        out.print(tflm_cache_line())
    missing = [c.tool.name for c in checks if c.tool.required and not c.found]
    if strict and missing:
        raise MissingToolError(f"missing for the default pipeline: {', '.join(missing)}",
                               hint="install them with the commands above")


def tflm_cache_line() -> str:
    """Where edgekit's TFLM library cache is, its entries and size (edgekit.runtimes.tflm.library)."""
    from edgekit.runtimes.tflm.library import cache_info

    info = cache_info()
    return (f"TFLM library cache: {info.root} ({info.entries} "
            f"entr{'y' if info.entries == 1 else 'ies'}, {info.bytes / 1e6:.1f} MB)")


def doctor_table(checks: Iterable[Check], width: int | None = None) -> Table:
    """Each tool, found (where) or missing (how to install it), and what it is needed for.

    Tool names never wrap and paths fold rather than being cut; below WIDE_DOCTOR columns
    "needed for" is left out.
    """
    wide = width is None or width >= WIDE_DOCTOR
    t = Table(title="edgekit doctor")
    t.add_column("", no_wrap=True)
    t.add_column("tool", no_wrap=True)
    if wide:
        t.add_column("needed for", overflow="fold")
    t.add_column("found / install", overflow="fold")
    for c in checks:
        mark = "[green]ok[/]" if c.found else ("[red]missing[/]" if c.tool.required else "[yellow]missing[/]")
        found = c.detail if c.found else f"[bold]{c.tool.install}[/]"
        t.add_row(mark, c.tool.name, *([c.tool.needed_for] if wide else []), found)
    return t


def doctor_dict(checks: Iterable[Check]) -> list[dict[str, Any]]:
    """`edgekit doctor --json`: one record per tool."""
    return [{"tool": c.tool.name, "kind": c.tool.kind, "found": c.found, "detail": c.detail or None,
             "required": c.tool.required, "needed_for": c.tool.needed_for, "install": c.tool.install}
            for c in checks]
