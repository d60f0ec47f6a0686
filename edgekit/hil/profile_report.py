"""How a per-layer profile (:class:`~edgekit.hil.profile.LayerProfile`) is shown: a console
table, Markdown lines and a PNG bar chart. report.json's keys are LayerProfile.to_dict's."""

from __future__ import annotations

import io
from pathlib import Path

from rich.table import Table

from edgekit.data import atomic_write_bytes
from edgekit.hil.profile import LayerProfile, OpCost, OpGroup

PROFILE_PNG = "profile.png"
MAX_BARS = 60  # a chart of more ops shows the costliest this many
MAX_OP_ROWS = 40  # the per-op table of a model with more ops lists the costliest this many


def _per_mac(o: OpCost | OpGroup) -> str:
    v = o.cycles_per_mac
    return "-" if v is None else f"{v:,.2f}"


def coverage_line(p: LayerProfile) -> str:
    """How much of the whole invoke the per-op counts account for."""
    return (f"per-op sum {p.total:,} of {p.invoke_cycles:,} {p.unit} for the whole invoke "
            f"({p.coverage:.2%} covered; the profiled invoke includes the profiler's own cost)")


def _shown_ops(p: LayerProfile) -> tuple[list[OpCost], str]:
    """The ops the per-op table lists (the MAX_OP_ROWS costliest, in execution order, when there
    are more) and a note saying so."""
    if len(p.ops) <= MAX_OP_ROWS:
        return list(p.ops), ""
    keep = {o.index for o in sorted(p.ops, key=lambda o: o.cycles, reverse=True)[:MAX_OP_ROWS]}
    return [o for o in p.ops if o.index in keep], \
        f"the {MAX_OP_ROWS} costliest of {len(p.ops)} ops; all of them in report.json"


def _group_tables(p: LayerProfile) -> list[tuple[str, list[OpGroup]]]:
    """(title, groups) per op type, and per Keras layer where that says more than the ops."""
    by_op = p.groups("op")
    found = [("op type", by_op)] if len(by_op) < len(p.ops) else []
    if p.layers_known:
        found.append(("Keras layer", p.groups("layer")))
    return found


def profile_tables(p: LayerProfile) -> list[Table]:
    """The profile as tables: per op type, per Keras layer (when the tensor names say), then per op."""
    tables = []
    for what, groups in _group_tables(p):
        t = Table(title=f"profile by {what} ({p.runtime}, one invoke, {p.unit})")
        for col, justify in ((what, "left"), ("ops", "right"), ("MACs", "right"), (p.unit, "right"),
                             (f"{p.unit}/MAC", "right"), ("% of invoke", "right")):
            t.add_column(col, justify=justify)  # type: ignore[arg-type]
        for g in groups:
            t.add_row(g.name, str(g.ops), f"{g.macs:,}", f"{g.cycles:,}", _per_mac(g), f"{p.share(g):.1%}")
        tables.append(t)
    ops, note = _shown_ops(p)
    t = Table(title=f"per-op profile ({p.runtime}, one invoke, {p.unit})")
    for col, justify in (("#", "right"), ("op", "left"), ("MACs", "right"), (p.unit, "right"),
                         (f"{p.unit}/MAC", "right"), ("% of invoke", "right")):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for o in ops:
        t.add_row(str(o.index), o.op, f"{o.macs:,}", f"{o.cycles:,}", _per_mac(o), f"{p.share(o):.1%}")
    t.caption = coverage_line(p) + (f"; {note}" if note else "")
    return tables + [t]


def profile_markdown(p: LayerProfile) -> list[str]:
    """report.md's profile section: per op type (and Keras layer), then per op."""
    lines = [f"## Per-op profile ({p.runtime}, one invoke)", ""]
    for what, groups in _group_tables(p):
        lines += [f"By {what}:", "", f"| {what} | ops | MACs | {p.unit} | {p.unit}/MAC | % of invoke |",
                  "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {g.name} | {g.ops} | {g.macs:,} | {g.cycles:,} | {_per_mac(g)} | {p.share(g):.1%} |"
                  for g in groups]
        lines.append("")
    ops, note = _shown_ops(p)
    lines += [f"Per op{f' ({note})' if note else ''}:", "",
              f"| # | op | MACs | {p.unit} | {p.unit}/MAC | % of invoke |", "|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {o.index} | {o.op} | {o.macs:,} | {o.cycles:,} | {_per_mac(o)} | {p.share(o):.1%} |"
              for o in ops]
    return lines + ["", coverage_line(p) + ".", ""]


def write_profile_png(p: LayerProfile, path: Path, title: str) -> Path:
    """A horizontal bar per op ("#3 CONV_2D"), in execution order from the top, labelled with its
    share of the invoke; with more than MAX_BARS ops, the costliest MAX_BARS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    ops = list(p.ops)
    title = f"{title} ({p.runtime})"
    if len(ops) > MAX_BARS:
        keep = {o.index for o in sorted(ops, key=lambda o: o.cycles, reverse=True)[:MAX_BARS]}
        ops = [o for o in ops if o.index in keep]
        title += f" ({MAX_BARS} costliest of {len(p.ops)} ops)"
    fig, ax = plt.subplots(figsize=(7.5, max(2.5, 0.32 * len(ops) + 1.4)), dpi=100)
    y = range(len(ops))
    ax.barh(y, [o.cycles for o in ops], color="#2f6db5")
    ax.set_yticks(y, [o.label for o in ops])
    ax.set_ylim(len(ops) - 0.5, -0.5)  # op 0 at the top, no empty rows
    top = max((o.cycles for o in ops), default=0)
    for i, o in enumerate(ops):
        ax.text(o.cycles + top * 0.01, i, f"{p.share(o):.1%}", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.15 or 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel(f"{p.unit} per op (whole invoke {p.invoke_cycles:,}, {p.coverage:.1%} covered)")
    ax.set_title(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


__all__ = ["MAX_BARS", "MAX_OP_ROWS", "PROFILE_PNG", "coverage_line", "profile_markdown", "profile_tables",
           "write_profile_png"]
