"""`edgekit boards [list|show]`: the board files edgekit knows (edgekit.boards)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from edgekit.boards import Board
from edgekit.cli.support import boards_dirs_option, json_option, kib, print_json, short_size
from edgekit.console import out

# Terminal widths from which the boards table shows all its columns (below: the essential ones).
WIDE_BOARDS = 160
MEDIUM_BOARDS = 100


@click.group(invoke_without_command=True)
@boards_dirs_option
@click.pass_context
def boards(ctx: click.Context, boards_dirs: tuple[Path, ...]) -> None:
    """List the boards edgekit knows (boards/*.toml and your own board directories)."""
    ctx.obj = boards_dirs
    if ctx.invoked_subcommand is None:
        ctx.invoke(boards_list)


def _dirs(group_dirs: tuple[Path, ...] | None, own: tuple[Path, ...]) -> tuple[Path, ...]:
    """--boards-dir given before the subcommand (`boards --boards-dir D show`) or after it."""
    return tuple(dict.fromkeys((*(group_dirs or ()), *own)))


@boards.command("list")
@boards_dirs_option
@json_option
@click.pass_obj
def boards_list(group_dirs: tuple[Path, ...] | None, boards_dirs: tuple[Path, ...] = (),
                as_json: bool = False) -> None:
    """All boards, validated."""
    from edgekit.boards import list_boards

    found = list_boards(_dirs(group_dirs, boards_dirs))
    if as_json:
        print_json([{"id": b.id, "name": b.name, "family": b.family, "mcu": b.mcu, "file": str(b.source)}
                    for b in found])
    else:
        out.print(boards_table(found, out.width))


@boards.command("show")
@click.argument("board_id")
@boards_dirs_option
@json_option
@click.pass_obj
def boards_show(group_dirs: tuple[Path, ...] | None, board_id: str, boards_dirs: tuple[Path, ...] = (),
                as_json: bool = False) -> None:
    """Everything a board file says."""
    from edgekit.boards import load_board

    board = load_board(board_id, _dirs(group_dirs, boards_dirs))
    if as_json:
        print_json(board_dict(board))
    else:
        out.print(board_detail(board))


def boards_table(boards: Iterable[Board], width: int | None = None) -> Table:
    """One row per board with its MCU, clock, memory and runners.

    Ids and MCUs never wrap. From WIDE_BOARDS columns every field is shown; from MEDIUM_BOARDS
    the name and runners wrap and the core is left out; narrower, only id, MCU, clock, flash
    and RAM (`edgekit boards show ID` has the rest).
    """
    level = 2 if width is None or width >= WIDE_BOARDS else 1 if width >= MEDIUM_BOARDS else 0
    t = Table(title="boards", caption=None if level == 2 else "* virtual board (QEMU); edgekit boards show ID: "
              "every field")
    columns = [("id", True), ("name", level >= 1), ("mcu", True), ("core", level >= 2), ("clock", True),
               ("flash", True), ("RAM", True), ("runners", level >= 1)]
    for col, keep in columns:
        if keep:
            t.add_column(col, no_wrap=col in ("id", "mcu", "clock", "flash", "RAM"), overflow="fold")
    for b in boards:
        if level == 2:
            ident = b.id + (" [dim](virtual)[/]" if b.virtual else "")
            flash, ram = kib(b.flash.size), kib(b.ram.size)
        else:
            ident = b.id + ("*" if b.virtual else "")
            flash, ram = short_size(b.flash.size), short_size(b.ram.size)
        cells = [ident, b.name, b.mcu, b.core, f"{b.max_clock_hz / 1e6:g} MHz", flash, ram,
                 ", ".join(r.name for r in b.runners)]
        t.add_row(*(c for c, (_, keep) in zip(cells, columns) if keep))
    return t


def board_detail(b: Board) -> Table:
    """Every field of one board file, one row each."""
    t = Table(title=f"{b.id}: {b.name}", show_header=False)
    t.add_column("field", no_wrap=True)
    t.add_column("value", overflow="fold")
    rows = [
        ("vendor", b.vendor), ("family", b.family), ("mcu", b.mcu), ("core", b.core),
        ("max clock", f"{b.max_clock_hz:,} Hz"),
        ("flash", f"{kib(b.flash.size)} at 0x{b.flash.origin:08x}"),
        ("RAM", f"{kib(b.ram.size)} at 0x{b.ram.origin:08x}"),
        *[(f"memory.{k}", f"{kib(m.size)} at 0x{m.origin:08x}") for k, m in b.extra_memory.items()],
        ("console", ", ".join(f"{k}={hex(v) if k.startswith('usb_') else v}" for k, v in b.console.items())),
        ("clock", ", ".join(f"{k}={v}" for k, v in b.clock.items())),
        ("cycle counter", ", ".join(f"{k}={v}" for k, v in b.cycle_counter.items())),
        ("runners", "; ".join(f"{r.name} {' '.join(r.args)}".strip() for r in b.runners)),
        ("sensors", "; ".join(f"{s.id}: {s.kind} {s.part} ({s.axes} axes, {s.units}, <= {s.max_rate_hz} Hz)"
                              for s in b.sensors) or "none"),
        ("file", str(b.source)),
    ]
    for k, v in rows:
        t.add_row(k, v)
    return t


def board_dict(b: Board) -> dict[str, Any]:
    """`edgekit boards show --json`: every field of the board file."""
    data = asdict(b)
    data["source"] = str(b.source)
    data["runners"] = [{"name": r.name, "args": list(r.args)} for r in b.runners]
    return data
