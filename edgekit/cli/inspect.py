"""`edgekit inspect`: a .tflite's structure, what each runtime needs, and the fit per board
(edgekit.runtimes.inspect)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import JustifyMethod
from rich.table import Table

from edgekit.cli.support import boards_dirs_option, fmt_bytes, kib, print_json
from edgekit.console import out, step
from edgekit.runtimes import EDGEKIT_RT

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.model.inspect import TensorInfo
    from edgekit.runtimes.inspect import InspectReport

WIDE_OPS = 100   # from this terminal width the operators table shows every column


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--board", "board_ids", multiple=True, help="Board to check the fit for (repeatable) [default: all].")
@boards_dirs_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def inspect(model: Path, board_ids: tuple[str, ...], boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Inputs, outputs, ops with MACs, weights, TFLM arena and fit per board of a .tflite model."""
    from edgekit.boards import list_boards, load_board
    from edgekit.runtimes.inspect import inspect_model

    boards = [load_board(b, boards_dirs) for b in board_ids] if board_ids else list_boards(boards_dirs)
    with step(f"inspecting {model}"):
        report = inspect_model(model, boards)
    if as_json:
        print_json(report.to_dict())
        return
    for table in inspect_tables(report, out.width):
        out.print(table)
    out.print(f"[dim]{report.arena_note}[/]")


def _io_rows(table: Table, kind: str, tensors: Iterable[TensorInfo]) -> None:
    for t in tensors:
        table.add_row(kind, t.port, t.name, str(tuple(t.shape)), t.dtype,
                      "-" if t.scale is None else f"{t.scale:.6g}", "-" if t.zero_point is None else str(t.zero_point))


def inspect_tables(r: InspectReport, width: int | None = None) -> list[Table]:
    """I/O tensors, operators, memory, and the fit per board when boards were checked.

    Op names never wrap; below WIDE_OPS columns the operators table leaves out the output
    tensor's name and the parameter count.
    """
    wide = width is None or width >= WIDE_OPS
    io = Table(title=f"{r.model}  sha256:{r.sha256[:16]}…")
    for col in ("", "name", "tensor", "shape", "dtype", "scale", "zero point"):
        io.add_column(col, overflow="fold")
    _io_rows(io, "input", r.inputs)
    _io_rows(io, "output", r.outputs)
    ops = Table(title="operators")
    columns: tuple[tuple[str, JustifyMethod, bool], ...] = (
        ("#", "right", True), ("op", "left", True), ("output", "left", wide), ("shape", "left", True),
        ("MACs", "right", True), ("params", "right", wide), ("weight bytes", "right", True))
    shown = [keep for _, _, keep in columns]
    for col, j, keep in columns:
        if keep:
            ops.add_column(col, justify=j, no_wrap=col == "op", overflow="fold")
    for layer in r.layers:
        cells = (str(layer.index), layer.op, layer.output, str(tuple(layer.output_shape)),
                 f"{layer.macs:,}", f"{layer.params:,}", f"{layer.weight_bytes:,}")
        ops.add_row(*(c for c, keep in zip(cells, shown) if keep))
    total = ("", "[bold]total[/]", "", "", f"[bold]{r.total_macs:,}[/]", f"[bold]{r.total_params:,}[/]",
             f"[bold]{r.weight_bytes:,}[/]")
    ops.add_row(*(c for c, keep in zip(total, shown) if keep))
    mem = Table(title="memory")
    mem.add_column("")
    mem.add_column("bytes", justify="right")
    mem.add_row(".tflite file", f"{r.file_bytes:,}")
    mem.add_row("constant data (weights, biases)", f"{r.weight_bytes:,}")
    mem.add_row("TFLM arena, measured on this 64-bit host", fmt_bytes(r.tflm_arena_host))
    mem.add_row("TFLM arena to reserve on a 32-bit MCU", fmt_bytes(r.tflm_arena_device))
    rt = r.edgekit_rt
    if rt is not None:
        mem.add_row(f"{EDGEKIT_RT} arena (static plan)", f"{rt.arena_bytes:,}")
        if rt.state_bytes:
            mem.add_row(f"{EDGEKIT_RT} state: recurrent, KV cache (static, outside the arena)", f"{rt.state_bytes:,}")
        mem.add_row(f"{EDGEKIT_RT} lower bound without in-place ops", f"{rt.lower_bound_bytes:,}")
        mem.add_row(f"{EDGEKIT_RT} constant data (weights, requantization)", f"{rt.const_bytes:,}")
    else:
        mem.add_row(EDGEKIT_RT, f"[yellow]cannot run it[/]: {r.edgekit_rt_unsupported}")
    tables = [io, ops, mem]
    if r.not_deployable:
        mem.add_row("firmware", f"[red]cannot be generated[/]: {r.not_deployable}")
    if r.fits:
        fit = Table(title="fit per board (estimate before building; `edgekit build` measures the ELF)")
        for col in ("board", "runtime", "flash needed / size", "RAM needed / size", "fits"):
            fit.add_column(col, no_wrap=col in ("board", "runtime"), overflow="fold")
        for f in r.fits:
            fit.add_row(f.board, f"{f.runtime} (auto)" if f.chosen else f.runtime,
                        f"{kib(f.flash_needed)} / {kib(f.flash_size)}",
                        f"{kib(f.ram_needed)} / {kib(f.ram_size)}", "[green]yes[/]" if f.fits else "[red]no[/]")
        tables.append(fit)
    return tables
