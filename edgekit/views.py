"""What each command shows: console tables, and the JSON of records that have no `to_dict`
of their own (the CLI prints them; libraries return data).

Tables never cut an id, an op name or a tool name (those columns do not wrap); in a narrow
terminal (`width` below a table's WIDE_* threshold) low-value columns are left out instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.console import JustifyMethod
from rich.table import Table

from edgekit.boards import Board
from edgekit.doctor import Check
from edgekit.model.evaluate import EvaluationReport
from edgekit.model.inspect import InspectReport, TensorInfo
from edgekit.model.metrics import HIGHER_IS_BETTER
from edgekit.model.quant_report import QuantizationReport
from edgekit.model.train import TrainResult
from edgekit.runtimes import EDGEKIT_RT

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.deploy import DeployResult
    from edgekit.hil.harness import HilResult
    from edgekit.hil.stream import StreamResult
    from edgekit.project.build import BuildResult
    from edgekit.project.generate import GenerateResult

# Terminal widths from which a table shows all its columns (below: the essential ones).
WIDE_BOARDS = 160
MEDIUM_BOARDS = 100
WIDE_DOCTOR = 110
WIDE_OPS = 100


def kib(n: int | None) -> str:
    """Bytes as KiB with one decimal ("-" for None)."""
    return "-" if n is None else f"{n / 1024:,.1f} KiB"


def short_size(n: int) -> str:
    """Bytes in the shortest exact form: "1 MiB", "128 KiB", "1.5 KiB" or "100 B"."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} B"


def _bytes(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def fmt_metric(value: float | None) -> str:
    """A metric value with 4 decimals ("-" for None)."""
    return "-" if value is None else f"{value:.4f}"


def _io_rows(table: Table, kind: str, tensors: Iterable[TensorInfo]) -> None:
    for t in tensors:
        table.add_row(kind, t.name, str(tuple(t.shape)), t.dtype,
                      "-" if t.scale is None else f"{t.scale:.6g}", "-" if t.zero_point is None else str(t.zero_point))


def train_table(r: TrainResult) -> Table:
    """`edgekit train`: task, float test metric, epochs, seed, parameter count and training time."""
    t = Table(title=f"trained example '{r.example}'")
    for col in ("task", "metric (float, test)", "epochs", "seed", "params", "seconds"):
        t.add_column(col)
    t.add_row(r.task, f"{r.metric} {r.float_test:.4f}", str(r.epochs), str(r.seed), f"{r.params:,}",
              f"{r.train_seconds:.1f}")
    return t


def quant_table(r: QuantizationReport) -> Table:
    """`edgekit quantize`: float vs int8 metric and size, and how often int8 agrees with float."""
    t = Table(title=f"int8 quantization of {r.keras_model}")
    t.add_column("")
    t.add_column("float (Keras)", justify="right")
    t.add_column(f"int8 ({r.int8_backend or 'not run'})", justify="right")
    t.add_column("change", justify="right")
    if r.metric:
        delta = (r.int8_value or 0) - (r.float_value or 0)
        better = delta >= 0 if HIGHER_IS_BETTER[r.metric] else delta <= 0
        colour = "green" if better or abs(delta) < 1e-9 else "yellow"
        t.add_row(f"{r.metric} on {r.test_samples} test samples", fmt_metric(r.float_value),
                  fmt_metric(r.int8_value), f"[{colour}]{delta:+.4f}[/]")
        for name, v in r.extra.items():   # e.g. next-word's top-3 accuracy
            t.add_row(name, fmt_metric(v["float"]), fmt_metric(v["int8"]), f"{v['int8'] - v['float']:+.4f}")
    ratio = r.int8_file_bytes / r.float_weight_bytes if r.float_weight_bytes else 0
    t.add_row("size (float weights vs .tflite)", kib(r.float_weight_bytes), kib(r.int8_file_bytes), f"x{ratio:.2f}")
    if r.agreement:
        t.add_row(f"int8 agrees with float ({r.agreement['definition']})", "", f"{r.agreement['share']:.1%}", "")
    return t


def evaluate_table(r: EvaluationReport) -> Table:
    """`edgekit evaluate`: model kind, interpreter, sample count, task and metric."""
    t = Table(title=f"evaluation of {r.model}")
    for col in ("model", "interpreter", "samples", "task", "metric"):
        t.add_column(col)
    t.add_row(r.kind, r.backend, str(r.samples), r.task or "-",
              f"{r.metric} {r.value:.4f}" if r.metric else "- (no labels)")
    return t


def inspect_tables(r: InspectReport, width: int | None = None) -> list[Table]:
    """`edgekit inspect`: I/O tensors, operators, memory, and the fit per board when boards were checked.

    Op names never wrap; below WIDE_OPS columns the operators table leaves out the output
    tensor's name and the parameter count.
    """
    wide = width is None or width >= WIDE_OPS
    io = Table(title=f"{r.model}  sha256:{r.sha256[:16]}…")
    for col in ("", "tensor", "shape", "dtype", "scale", "zero point"):
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
    mem.add_row("TFLM arena, measured on this 64-bit host", _bytes(r.tflm_arena_host))
    mem.add_row("TFLM arena to reserve on a 32-bit MCU", _bytes(r.tflm_arena_device))
    rt = r.edgekit_rt
    if rt is not None:
        mem.add_row(f"{EDGEKIT_RT} arena (static plan)", f"{rt.arena_bytes:,}")
        if rt.state_bytes:
            mem.add_row(f"{EDGEKIT_RT} recurrent state (static, outside the arena)", f"{rt.state_bytes:,}")
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


def boards_table(boards: Iterable[Board], width: int | None = None) -> Table:
    """`edgekit boards list`: one row per board with its MCU, clock, memory and runners.

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
    """`edgekit boards show`: every field of one board file, one row each."""
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


def doctor_table(checks: Iterable[Check], width: int | None = None) -> Table:
    """`edgekit doctor`: each tool, found (where) or missing (how to install it), and what it is needed for.

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


def board_dict(b: Board) -> dict[str, Any]:
    """`edgekit boards show --json`: every field of the board file."""
    data = asdict(b)
    data["source"] = str(b.source)
    data["runners"] = [{"name": r.name, "args": list(r.args)} for r in b.runners]
    return data


def generate_dict(r: GenerateResult) -> dict[str, Any]:
    """`edgekit generate --json`: the project written and the estimates before building."""
    return {"project_dir": str(r.project_dir), "board": r.project.board.id, "runtime": r.project.runtime,
            "model_sha256": r.project.model_sha256, "ops": list(r.ops), "arena_bytes": r.arena_bytes,
            "model_flash_bytes": r.model_flash_bytes, "flash_estimate": r.flash_estimate,
            "ram_estimate": r.ram_estimate, "runtime_reason": r.runtime_reason or None}


def build_dict(r: BuildResult) -> dict[str, Any]:
    """`edgekit build --json`: the image, its log, and its size against the board's memory."""
    size = r.size
    return {"elf": str(r.elf), "build_dir": str(r.build_dir), "log": str(r.log),
            "size": {**asdict(size), "flash_used": size.flash_used, "ram_used": size.ram_used, "fits": size.fits}}


def stream_dict(r: StreamResult) -> dict[str, Any]:
    """`edgekit stream --json`: what the recording got."""
    return {**asdict(r), "path": str(r.path)}


def hil_dict(r: HilResult) -> dict[str, Any]:
    """`edgekit hil --json`: report.json's content, the files written and whether the gates passed."""
    return {**r.report.to_dict(), "files": [str(p) for p in r.paths], "gates_passed": r.gates_passed}


def deploy_table(r: DeployResult, title: str) -> Table:
    """`edgekit deploy`: what each stage produced."""
    t = Table(title=title)
    t.add_column("step", no_wrap=True)
    t.add_column("result", overflow="fold")
    for name, text in r.steps:
        t.add_row(name, text)
    return t


def deploy_dict(r: DeployResult) -> dict[str, Any]:
    """`edgekit deploy --json`: what each stage produced, and the validation on the board."""
    return {"steps": [{"step": name, "result": text} for name, text in r.steps], "hil": hil_dict(r.hil)}
