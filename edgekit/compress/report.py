"""The compression report: every candidate, the Pareto fronts, the choice and why.

Written as JSON (compress.json), Markdown (compress.md) and a PNG (compress.png: int8 metric
against flash, against RAM when RAM overflows, and against predicted latency, the budget as a
line, the Pareto front drawn, the chosen model ringed); the console gets a rich table whose id
column never wraps.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from edgekit.compress.budget import Budget
from edgekit.compress.latency import LatencyCheck
from edgekit.compress.search import Candidate
from edgekit.data import atomic_write_bytes, atomic_write_text
from edgekit.model.metrics import HIGHER_IS_BETTER

JSON_FILE, MARKDOWN_FILE, PNG_FILE = "compress.json", "compress.md", "compress.png"


@dataclass
class CompressionReport:
    """What `edgekit compress` found: budget, candidates, Pareto fronts, the chosen one and why."""

    model: str
    data: str
    task: str
    metric: str
    budget: Budget
    baseline_float: float
    candidates: list[Candidate]
    chosen: str | None
    reason: str
    pareto_flash: list[str] = field(default_factory=list)
    pareto_latency: list[str] = field(default_factory=list)
    pareto_ram: list[str] = field(default_factory=list)
    seconds: float = 0.0
    seed: int = 0
    methods: list[str] = field(default_factory=list)
    importance: str = "l1"                         # how pruning ranked channels: l1 or taylor
    latency_check: LatencyCheck | None = None     # the chosen model timed on the virtual board

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (compress.json, `--json`)."""
        return asdict(self)

    def chosen_candidate(self) -> Candidate | None:
        """The chosen candidate, or None when nothing fits."""
        return next((c for c in self.candidates if c.id == self.chosen), None)


def pareto_front(candidates: list[Candidate], cost: str, metric: str) -> list[str]:
    """Ids of the scored candidates no other beats on both `cost` (a Candidate field, lower is
    better) and the int8 metric, ordered by cost."""
    higher = HIGHER_IS_BETTER[metric]
    scored = [c for c in candidates if c.int8_metric is not None and getattr(c, cost) is not None]
    scored.sort(key=lambda c: (getattr(c, cost), -(c.int8_metric or 0.0) if higher else (c.int8_metric or 0.0)))
    front, best = [], None
    for c in scored:
        m = c.int8_metric or 0.0
        if best is None or (m > best if higher else m < best):
            front.append(c.id)
            best = m
    return front


def _metric(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def _num(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def _fits(c: Candidate) -> str:
    return "-" if c.fits is None else ("yes" if c.fits else "no")


COLUMNS = ("id", "method", "params", "MACs", "flash B", "RAM B", "latency ms", "float", "int8", "fits")


def widths_short(c: Candidate) -> str:
    """The console's short form of a candidate's widths: percent kept per pruned layer, e.g. "35/100"."""
    return "/".join(f"{100 * w.kept / w.of:.0f}" for w in c.widths) or "-"


def widths_full(c: Candidate) -> str:
    """Every pruned layer's channels and every factorized layer's rank, e.g.
    "fc1 819/1024, fc2 512/512; rank fc2 40/512"."""
    parts = [", ".join(f"{w.layer} {w.kept}/{w.of}" for w in c.widths)] if c.widths else []
    if c.ranks:
        parts.append("rank " + ", ".join(f"{w.layer} {w.kept}/{w.of}" for w in c.ranks))
    return "; ".join(parts) or "-"


def _cells(c: Candidate) -> tuple[str, ...]:
    return (c.id, c.method, _num(c.params), _num(c.macs), _num(c.flash), _num(c.ram),
            "-" if c.latency_ms is None else f"{c.latency_ms:.3f}", _metric(c.float_metric),
            _metric(c.int8_metric), _fits(c))


def console_table(r: CompressionReport) -> Table:
    """Every candidate as one row; the chosen one in bold; ids never wrap or get cut."""
    b = r.budget
    lat = f", latency {b.latency_ms:g} ms" if b.latency_ms is not None else ""
    t = Table(title=f"compression candidates ({r.metric}; budget on {b.board}: flash {b.flash:,} B, "
                    f"RAM {b.ram:,} B{lat})")
    for col in (*COLUMNS, "widths %"):
        t.add_column(col, no_wrap=col in ("id", "method"), justify="left" if col in ("id", "method") else "right")
    for c in r.candidates:
        cells = (*_cells(c), widths_short(c))
        style = "bold green" if c.id == r.chosen else ("dim" if not c.fits else "")
        t.add_row(*cells, style=style)
    return t


def markdown(r: CompressionReport) -> str:
    """The report as Markdown: budget, table of candidates, Pareto fronts, the choice."""
    b = r.budget
    lines = [f"# Compression of {r.model}", "",
             f"- board: {b.board}, runtime: {b.runtime}; budget: flash {b.flash:,} B ({b.flash_from}), "
             f"RAM {b.ram:,} B ({b.ram_from})" + (f", latency {b.latency_ms:g} ms" if b.latency_ms else ""),
             f"- data: {r.data}; task {r.task}, metric {r.metric}; original float {r.baseline_float:.4f}",
             f"- methods: {', '.join(r.methods)}; channel importance {r.importance}; seed {r.seed}; "
             f"{r.seconds:.1f} s", "",
             "| " + " | ".join(COLUMNS) + " | widths / ranks | note |", "|" + "---|" * (len(COLUMNS) + 2)]
    for c in r.candidates:
        cells = list(_cells(c))
        if c.id == r.chosen:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + f" | {widths_full(c)} | {c.note} |")
    lines += ["", f"Pareto front, {r.metric} vs flash: {', '.join(r.pareto_flash) or '-'}",
              f"Pareto front, {r.metric} vs RAM: {', '.join(r.pareto_ram) or '-'}",
              f"Pareto front, {r.metric} vs predicted latency: {', '.join(r.pareto_latency) or '-'}", "",
              f"**Chosen: {r.chosen or 'none'}** — {r.reason}", "",
              *([f"Latency check: {r.latency_check.note}", ""] if r.latency_check else []),
              "Flash and RAM are the firmware totals `edgekit inspect` estimates (runtime code and firmware "
              "included); latency is predicted from MACs, not measured.", ""]
    return "\n".join(lines)


def _label_clusters(points: list[tuple[float, float, str]]) -> list[tuple[float, float, list[str]]]:
    """Points close enough for their labels to collide (within 4 % of the x range and 3 % of the y
    range of the first point of a cluster), as one label per cluster: its ids stacked."""
    if not points:
        return []
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    dx, dy = 0.04 * ((max(xs) - min(xs)) or 1.0), 0.03 * ((max(ys) - min(ys)) or 1.0)
    clusters: list[tuple[float, float, list[str]]] = []
    for x, y, cid in sorted(points):
        near = next((c for c in clusters if abs(c[0] - x) <= dx and abs(c[1] - y) <= dy), None)
        if near is None:
            clusters.append((x, y, [cid]))
        else:
            near[2].append(cid)
    return clusters


def _draw(r: CompressionReport) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("flash", r.pareto_flash, "firmware flash (KiB)", r.budget.flash / 1024),
              ("ram", r.pareto_ram, "firmware RAM (KiB)", r.budget.ram / 1024),
              ("latency_ms", r.pareto_latency, "predicted latency (ms)", r.budget.latency_ms)]
    if not any("ram" in c.overflow for c in r.candidates):   # RAM only when it is what overflows
        del panels[1]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.8), dpi=100)
    scored = [c for c in r.candidates if c.int8_metric is not None]
    for ax, (cost, front, label, limit) in zip(axes, panels):
        scale = 1024.0 if cost in ("flash", "ram") else 1.0
        for c in scored:
            ax.scatter(getattr(c, cost) / scale, c.int8_metric, s=40, color="tab:green" if c.fits else "tab:red",
                       zorder=3)
        labels = [(getattr(c, cost) / scale, c.int8_metric, c.id) for c in scored if c.int8_metric is not None]
        for x, y, ids in _label_clusters(labels):
            ax.annotate("\n".join(ids), (x, y), textcoords="offset points", xytext=(5, 3), fontsize=7,
                        va="bottom")
        sized = [c for c in r.candidates if c.int8_metric is None and getattr(c, cost) is not None]
        if sized:   # sized but not trained: ticks along the bottom, where they lie on the cost axis
            ax.scatter([getattr(c, cost) / scale for c in sized], [0.03] * len(sized), marker="|", s=120,
                       c=["tab:green" if c.fits else "tab:red" for c in sized], transform=ax.get_xaxis_transform(),
                       label="sized only (not trained)", zorder=3)
        xs = [getattr(c, cost) / scale for c in scored + sized] + ([limit] if limit is not None else [])
        if xs:   # the ticks are drawn in axis coordinates: widen the x range to them by hand
            pad = 0.05 * (max(xs) - min(xs) or max(xs) or 1.0)
            ax.set_xlim(min(xs) - pad, max(xs) + pad)
        pts = [(getattr(c, cost) / scale, c.int8_metric) for c in scored if c.id in front]
        if pts:
            ax.plot(*zip(*sorted(pts)), color="tab:blue", lw=1, ls="--", label="Pareto front", zorder=2)
        chosen = r.chosen_candidate()
        if chosen is not None and chosen.int8_metric is not None:
            ax.scatter(getattr(chosen, cost) / scale, chosen.int8_metric, s=200, facecolors="none",
                       edgecolors="black", lw=1.5, label=f"chosen: {chosen.id}", zorder=4)
        if limit is not None:
            ax.axvline(limit, color="tab:red", lw=1, label="budget")
        ax.axhline(r.baseline_float, color="gray", lw=1, ls=":", label="original float")
        ax.set_xlabel(label)
        ax.set_ylabel(f"int8 {r.metric} (test)")
        ax.grid(alpha=0.3)
        ax.margins(y=0.2)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"compression on {r.budget.board}: green fits, red does not")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def write_report(r: CompressionReport, out_dir: Path) -> list[Path]:
    """compress.json, compress.md and compress.png in `out_dir`, each written atomically."""
    paths = [out_dir / JSON_FILE, out_dir / MARKDOWN_FILE, out_dir / PNG_FILE]
    atomic_write_text(paths[0], json.dumps(r.to_dict(), indent=2) + "\n")
    atomic_write_text(paths[1], markdown(r))
    atomic_write_bytes(paths[2], _draw(r))
    return paths


__all__ = ["CompressionReport", "pareto_front", "console_table", "markdown", "write_report", "widths_short",
           "widths_full", "JSON_FILE", "MARKDOWN_FILE", "PNG_FILE"]
