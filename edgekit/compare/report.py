"""How a :class:`~edgekit.compare.result.Comparison` is shown: rich tables for the console, the JSON
document (:func:`comparison_dict`, the one place that spells its keys), Markdown and a PNG
chart (one panel per metric, bars normalised to the baseline), written into the output
directory by :func:`write_outputs`.

The variant label and the op name never wrap or get cut; piped, the console takes a table's
natural width (see :mod:`edgekit.console`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from edgekit.compare.result import METRICS, Comparison, Metric, VariantResult
from edgekit.data import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.hil.profile import LayerProfile

COMPARE_JSON = "compare.json"
COMPARE_MD = "compare.md"
COMPARE_PNG = "compare.png"
COVERAGE_TOLERANCE = 0.02   # a profile whose ops sum to the whole invoke within 2 % accounts for it
_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")   # one per variant
_METRIC_TITLES = {"latency": "latency p50", "arena": "arena", "flash": "flash", "ram": "RAM"}


def _num(v: float | None, unit: str = "") -> str:
    return "-" if v is None else f"{v:,.0f}{unit}"


def _ratio(v: float | None) -> str:
    return "-" if v is None else f"x{v:.2f}"


def _seconds(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} s"


def _tflm_lib(r: VariantResult) -> str:
    b = r.build
    if b is None or b.tflm_cached is None:
        return "-"
    return "cached" if b.tflm_cached else f"built ({b.tflm_compiled} sources)"


def _exact(r: VariantResult) -> str:
    a = r.agreement
    if a is None:
        return "-"
    return f"{a.exact_share:.0%} ({a.samples}), max {a.max_abs_diff_lsb} {a.unit}"


def _coverage(p: LayerProfile) -> str:
    return f"{p.coverage:.1%}"


def coverage_ok(p: LayerProfile) -> bool:
    """The per-op counts add up to the whole invoke within COVERAGE_TOLERANCE."""
    return abs(p.coverage - 1.0) <= COVERAGE_TOLERANCE


# Columns of the comparison: (header, left-aligned, level); level 0 is always shown, 1 from
# MEDIUM_COMPARE terminal columns, 2 from WIDE_COMPARE (and piped). The error is a column in
# Markdown only: the console prints it on its own line under the table.
_COLUMNS: tuple[tuple[str, bool, int], ...] = (
    ("runtime", True, 0), ("exact", True, 0), ("agreement", True, 2), ("latency p50", False, 0),
    ("x rt", False, 0), ("arena B", False, 1), ("flash B", False, 0), ("x rt", False, 1), ("RAM B", False, 0),
    ("x rt", False, 1), ("first build", False, 2), ("rebuild", False, 2), ("TFLM library", True, 2),
    ("error", True, 3))
WIDE_COMPARE = 180
MEDIUM_COMPARE = 100


def _verdict(r: VariantResult) -> str:
    return "failed" if r.error else ("yes" if r.exact else "NO")


def _rows(c: Comparison) -> list[list[str]]:
    """One row of plain cells per variant, in the order of _COLUMNS."""
    rows = []
    for r in c.results:
        rows.append([
            r.variant.label, _verdict(r), _exact(r),
            _num(r.value("latency")), _ratio(c.ratio(r, "latency")), _num(r.value("arena")),
            _num(r.value("flash")), _ratio(c.ratio(r, "flash")), _num(r.value("ram")), _ratio(c.ratio(r, "ram")),
            _seconds(r.build.first_s if r.build else None), _seconds(r.build.rebuild_s if r.build else None),
            _tflm_lib(r), r.error or ""])
    return rows


def _caption(c: Comparison) -> str:
    base = c.baseline.variant.label if c.baseline else "-"
    return f"latency in {c.unit}{' (QEMU)' if c.virtual else ''}; x rt: ratio to {base}"


def comparison_table(c: Comparison, width: int | None = None) -> Table:
    """The console table: one row per variant. Below WIDE_COMPARE columns the agreement and
    build columns are left out, below MEDIUM_COMPARE the arena and two ratios; the runtime
    label never wraps. A failed variant says "failed" (console_lines gives its error)."""
    level = 2 if width is None or width >= WIDE_COMPARE else 1 if width >= MEDIUM_COMPARE else 0
    t = Table(title=f"{c.model.name} on {c.board}", caption=_caption(c))
    shown = [lv <= level for _, _, lv in _COLUMNS]
    for (header, left, _), keep in zip(_COLUMNS, shown):
        if keep:
            t.add_column(header, justify="left" if left else "right", no_wrap=header in ("runtime", "exact"),
                         overflow="fold")
    for row, r in zip(_rows(c), c.results):
        colour = "green" if r.exact else "red"
        row[1] = f"[{colour}]{row[1]}[/]"
        t.add_row(*(cell for cell, keep in zip(row, shown) if keep))
    return t


def _profiled(c: Comparison) -> list[VariantResult]:
    return [r for r in c.results if r.profile is not None]


def _profile_rows(c: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the side-by-side per-op table (op index, op, MACs, a count per variant)."""
    profiled = _profiled(c)
    header = ["#", "op", "MACs", *(r.variant.label for r in profiled)]
    ops: dict[int, tuple[str, int]] = {}
    counts: dict[tuple[int, int], int] = {}
    for j, r in enumerate(profiled):
        assert r.profile is not None
        for o in r.profile.ops:
            ops.setdefault(o.index, (o.op, o.macs))
            counts[j, o.index] = o.cycles
    rows = [[str(i), op, f"{macs:,}", *(_num(counts.get((j, i))) for j in range(len(profiled)))]
            for i, (op, macs) in sorted(ops.items())]
    rows.append(["", "sum of ops", "", *(_num(r.profile.total if r.profile else None) for r in profiled)])
    rows.append(["", "whole invoke", "", *(_num(r.profile.invoke_cycles if r.profile else None) for r in profiled)])
    rows.append(["", "coverage", "", *(_coverage(r.profile) if r.profile else "-" for r in profiled)])
    return header, rows


def profile_table(c: Comparison) -> Table | None:
    """The per-op profiles side by side, or None when no variant was profiled."""
    if not _profiled(c):
        return None
    header, rows = _profile_rows(c)
    t = Table(title=f"per-op profile ({c.unit} per op, one invoke)")
    for i, h in enumerate(header):
        t.add_column(h, justify="left" if i == 1 else "right", no_wrap=i == 1, overflow="fold")
    for row in rows:
        t.add_row(*row)
    return t


def print_comparison(c: Comparison, console: Console) -> None:
    """The comparison table, the per-op table when there are profiles, and the console lines."""
    console.print(comparison_table(c, console.width))
    per_op = profile_table(c)
    if per_op is not None:
        console.print(per_op)
    for line in console_lines(c):
        console.print(line)


def console_lines(c: Comparison) -> list[str]:
    """The notes, each profile's coverage, and the files written, one line each."""
    lines = [f"[red]{escape(r.variant.label)} failed[/]: {escape(r.error)}" for r in c.results if r.error]
    lines += [escape(f"inputs: {c.data}"), *map(escape, c.notes)]
    for r in _profiled(c):
        p = r.profile
        assert p is not None
        mark = "ok" if coverage_ok(p) else f"[yellow]off by more than {COVERAGE_TOLERANCE:.0%}[/]"
        lines.append(f"profile coverage {escape(r.variant.label)}: sum of ops {p.total:,} / whole invoke "
                     f"{p.invoke_cycles:,} {c.unit} = {p.coverage:.1%} ({mark})")
    lines += [escape(cycles_line(r)) for r in c.results if r.cycles is not None]
    if c.virtual:
        lines.append("latency and profiles in QEMU instructions (virtual board), not Cortex-M cycles")
    if c.files:
        lines.append(escape(f"written: {', '.join(str(p) for p in c.files)}"))
    return lines


def cycles_line(r: VariantResult) -> str:
    """A variant's estimated cycles of one invoke, labelled, beside the instructions they came from."""
    e = r.cycles
    assert e is not None
    low, high = e.refill_range
    return (f"{r.variant.label}: {e.invoke_cycles:,} {e.label} per invoke, from {e.invoke_instructions:,} "
            f"instructions ({e.cycles_per_instruction:.2f} per instruction; refill 1-3 cycles: {low:,}-{high:,})")


def _result_dict(c: Comparison, r: VariantResult) -> dict[str, Any]:
    v = r.variant
    metrics: tuple[Metric, ...] = ("latency", "arena", "flash", "ram")
    return {
        "label": v.label, "runtime": v.runtime, "kernels": v.kernels,
        "tflm_dir": str(v.tflm_dir) if v.tflm_dir else None,
        "project_dir": str(r.project_dir) if r.project_dir else None, "error": r.error, "exact": r.exact,
        "agreement": r.agreement.to_dict() if r.agreement else None,
        "latency": r.latency.to_dict() if r.latency else None,
        "latency_p50": r.value("latency"), "arena_bytes": r.arena_bytes,
        "flash_bytes": r.value("flash"), "ram_bytes": r.value("ram"),
        "size": asdict(r.size) if r.size else None,
        "ratios": {m: c.ratio(r, m) for m in metrics},
        "build": asdict(r.build) if r.build else None,
        "profile": r.profile.to_dict() if r.profile else None,
        "cycle_estimate": r.cycles.to_dict() if r.cycles else None,
        "report_dir": str(r.report_dir) if r.report_dir else None,
    }


def comparison_dict(c: Comparison) -> dict[str, Any]:
    """`edgekit compare --json` and compare.json."""
    base = c.baseline
    return {"model": str(c.model), "model_sha256": c.model_sha256, "board": c.board, "virtual": c.virtual,
            "unit": c.unit, "data": c.data, "samples": c.samples,
            "baseline": base.variant.label if base else None, "all_exact": c.all_exact, "notes": list(c.notes),
            "problems": c.problems, "variants": [_result_dict(c, r) for r in c.results],
            "files": [str(p) for p in c.files]}


def _md_table(header: list[str], rows: list[list[str]], left: Sequence[bool] = ()) -> list[str]:
    cells = [[x.replace("|", "\\|") for x in row] for row in rows]
    align = [left[i] if i < len(left) else False for i in range(len(header))]
    return ["| " + " | ".join(header) + " |", "|" + "".join("---|" if a else "---:|" for a in align),
            *("| " + " | ".join(row) + " |" for row in cells)]


def markdown(c: Comparison) -> str:
    """compare.md: the comparison table, notes, per-op profiles and problems."""
    lines = [f"# {c.model.name} on {c.board}: runtimes compared", "",
             f"- model: `{c.model}` (sha256 `{c.model_sha256[:16]}…`)",
             f"- inputs: {c.data}", f"- latency unit: {c.unit}", ""]
    lines += _md_table([h for h, _, _ in _COLUMNS], _rows(c), [left for _, left, _ in _COLUMNS])
    lines += ["", _caption(c) + "."]
    if c.notes:
        lines += ["", *(f"- {n}" for n in c.notes)]
    estimated = [f"- {cycles_line(r)}" for r in c.results if r.cycles is not None]
    lines += ["", *estimated] if estimated else []
    if _profiled(c):
        lines += ["", f"## Per-op profile ({c.unit})", ""]
        lines += _md_table(*_profile_rows(c), [False, True])
    if c.problems:
        lines += ["", "## Problems", "", *(f"- {p}" for p in c.problems)]
    lines += ["", f"![comparison]({COMPARE_PNG})", ""]
    return "\n".join(lines)


def _bar_label(c: Comparison, r: VariantResult, metric: Metric) -> str:
    value = r.value(metric)
    unit = f" {c.unit}" if metric == "latency" else " B"
    return f"{_num(value)}{unit}  {_ratio(c.ratio(r, metric))}"


def write_png(c: Comparison, path: Path) -> None:
    """One horizontal bar panel per metric, each variant's figure over the baseline's, with the
    absolute figure written on its bar; a failed variant is marked instead of a bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    labels = [r.variant.label for r in c.results]
    base = c.baseline.variant.label if c.baseline else "baseline"
    fig, axes = plt.subplots(2, 2, figsize=(11, 2.2 + 0.9 * len(labels)), dpi=100)
    colours = _COLOURS
    for ax, metric in zip(axes.flat, METRICS):
        ratios = [c.ratio(r, metric) for r in c.results]
        top = max([x for x in ratios if x is not None] + [1.0])
        for i, (r, x) in enumerate(zip(c.results, ratios)):
            if x is None or r.error:
                ax.text(0.02 * top, i, "failed" if r.error else "-", va="center", color="red")
                continue
            ax.barh(i, x, color=colours[i % len(colours)], height=0.6)
            ax.text(x + 0.02 * top, i, _bar_label(c, r, metric), va="center", fontsize=9)
        ax.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
        ax.set_xlim(0, top * 1.75)
        unit = f" ({c.unit})" if metric == "latency" else " (bytes)"
        ax.set_title(f"{_METRIC_TITLES[metric]}{unit}", fontsize=10)
        ax.set_xlabel(f"ratio to {base} (dashed line)", fontsize=9)
    fig.suptitle(f"{c.model.name} on {c.board}: lower is better", fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def write_outputs(c: Comparison, out_dir: Path) -> list[Path]:
    """compare.json, compare.md and compare.png in `out_dir` (each written atomically)."""
    paths = [out_dir / COMPARE_JSON, out_dir / COMPARE_MD, out_dir / COMPARE_PNG]
    c.files = paths
    write_png(c, paths[2])
    atomic_write_text(paths[1], markdown(c))
    atomic_write_text(paths[0], json.dumps(comparison_dict(c), indent=2, default=str) + "\n")
    return paths


__all__ = ["COMPARE_JSON", "COMPARE_MD", "COMPARE_PNG", "COVERAGE_TOLERANCE", "MEDIUM_COMPARE", "WIDE_COMPARE",
           "comparison_dict", "comparison_table", "console_lines", "coverage_ok", "cycles_line", "markdown",
           "print_comparison", "profile_table", "write_outputs", "write_png"]
