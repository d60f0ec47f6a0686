"""Console tables for the reports of each command (the CLI prints them; libraries return data)."""

from __future__ import annotations

from collections.abc import Iterable

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


def kib(n: int | None) -> str:
    """Bytes as KiB with one decimal ("-" for None)."""
    return "-" if n is None else f"{n / 1024:,.1f} KiB"


def _bytes(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def fmt_metric(value: float | None) -> str:
    """A metric value with 4 decimals ("-" for None)."""
    return "-" if value is None else f"{value:.4f}"


def _io_rows(table: Table, kind: str, tensors: Iterable[TensorInfo]) -> None:
    for t in tensors:
        table.add_row(kind, t.name, str(tuple(t.shape)), t.dtype,
                      "-" if t.scale is None else f"{t.scale:.6g}", str(t.zero_point))


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


def inspect_tables(r: InspectReport) -> list[Table]:
    """`edgekit inspect`: I/O tensors, operators, memory, and the fit per board when boards were checked."""
    io = Table(title=f"{r.model}  sha256:{r.sha256[:16]}…")
    for col in ("", "tensor", "shape", "dtype", "scale", "zero point"):
        io.add_column(col)
    _io_rows(io, "input", r.inputs)
    _io_rows(io, "output", r.outputs)
    ops = Table(title="operators")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("#", "right"), ("op", "left"), ("output", "left"), ("shape", "left"),
        ("MACs", "right"), ("params", "right"), ("weight bytes", "right"))
    for col, j in columns:
        ops.add_column(col, justify=j)
    for layer in r.layers:
        ops.add_row(str(layer.index), layer.op, layer.output[-48:], str(tuple(layer.output_shape)),
                    f"{layer.macs:,}", f"{layer.params:,}", f"{layer.weight_bytes:,}")
    ops.add_row("", "[bold]total[/]", "", "", f"[bold]{r.total_macs:,}[/]", f"[bold]{r.total_params:,}[/]",
                f"[bold]{r.weight_bytes:,}[/]")
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
        mem.add_row(f"{EDGEKIT_RT} lower bound without in-place ops", f"{rt.lower_bound_bytes:,}")
        mem.add_row(f"{EDGEKIT_RT} constant data (weights, requantization)", f"{rt.const_bytes:,}")
    else:
        mem.add_row(EDGEKIT_RT, f"[yellow]cannot run it[/]: {r.edgekit_rt_unsupported}")
    tables = [io, ops, mem]
    if r.fits:
        fit = Table(title="fit per board (estimate before building; `edgekit build` measures the ELF)")
        for col in ("board", "runtime", "flash needed / size", "RAM needed / size", "fits"):
            fit.add_column(col)
        for f in r.fits:
            fit.add_row(f.board, f.runtime, f"{kib(f.flash_needed)} / {kib(f.flash_size)}",
                        f"{kib(f.ram_needed)} / {kib(f.ram_size)}", "[green]yes[/]" if f.fits else "[red]no[/]")
        tables.append(fit)
    return tables


def boards_table(boards: Iterable[Board]) -> Table:
    """`edgekit boards list`: one row per board with its MCU, clock, memory and runners."""
    t = Table(title="boards")
    for col in ("id", "name", "mcu", "core", "clock", "flash", "RAM", "runners"):
        t.add_column(col)
    for b in boards:
        t.add_row(b.id + (" [dim](virtual)[/]" if b.virtual else ""), b.name, b.mcu, b.core,
                  f"{b.max_clock_hz / 1e6:g} MHz", kib(b.flash.size), kib(b.ram.size),
                  ", ".join(r.name for r in b.runners))
    return t


def board_detail(b: Board) -> Table:
    """`edgekit boards show`: every field of one board file, one row each."""
    t = Table(title=f"{b.id}: {b.name}", show_header=False)
    t.add_column("field")
    t.add_column("value")
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


def doctor_table(checks: Iterable[Check]) -> Table:
    """`edgekit doctor`: each tool, found (where) or missing (how to install it), and what it is needed for."""
    t = Table(title="edgekit doctor")
    for col in ("", "tool", "needed for", "found / install"):
        t.add_column(col)
    for c in checks:
        mark = "[green]ok[/]" if c.found else ("[red]missing[/]" if c.tool.required else "[yellow]missing[/]")
        t.add_row(mark, c.tool.name, c.tool.needed_for, c.detail if c.found else f"[bold]{c.tool.install}[/]")
    return t
