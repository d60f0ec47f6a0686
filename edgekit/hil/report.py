"""Validation reports: console tables, JSON, Markdown, PNG plots and JUnit XML.

Writers go through temporary files and renames, so a report on disk is always whole; the
harness writes a partial report as it goes, so nothing measured is lost when a run fails.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from rich.table import Table

from edgekit.data import atomic_write_bytes, atomic_write_text


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def counter_unit(report: dict[str, Any]) -> str:
    """Cycles on silicon; instructions on QEMU (-icount shift=0), never to be called cycles."""
    return "instructions" if report.get("virtual") else "cycles"


def console_tables(report: dict[str, Any]) -> list[Table]:
    tables = []
    unit = counter_unit(report)
    task = report.get("task") or {}
    if task.get("metric"):
        t = Table(title=f"{task['metric']} on {report['agreement'].get('samples', 0)} test samples")
        for col in ("device", "host int8 (TFLM reference)", "float"):
            t.add_column(col, justify="right")
        t.add_row(_fmt(task.get("device")), _fmt(task.get("host_int8")), _fmt(task.get("float")))
        tables.append(t)
    a = report.get("agreement") or {}
    if a:
        t = Table(title="agreement with the host reference")
        for col in ("samples", "exact", "max |diff| (LSB)", "cosine (min)", "RMSE"):
            t.add_column(col, justify="right")
        t.add_row(str(a["samples"]), f"{a['exact_share']:.2%}", str(a["max_abs_diff_lsb"]),
                  f"{a['cosine_min']:.6f}", f"{a['rmse']:.6g}")
        tables.append(t)
    lat = report.get("latency") or {}
    if lat.get("runs"):
        time_unit = "virtual µs" if report.get("virtual") else "µs"
        t = Table(title=f"latency after {lat['warmup']} warm-up runs ({lat['runs']} runs)")
        t.add_column("")
        for col in ("min", "p50", "p90", "p99", "max"):
            t.add_column(col, justify="right")
        t.add_row(unit, *(f"{lat['counts'][k]:,.0f}" for k in ("min", "p50", "p90", "p99", "max")))
        t.add_row(time_unit, *(f"{lat['us'][k]:,.1f}" for k in ("min", "p50", "p90", "p99", "max")))
        tables.append(t)
    link = report.get("link") or {}
    if link.get("bytes_per_second"):
        t = Table(title="link")
        for col in ("bytes sent", "bytes received", "seconds", "throughput", "of theoretical"):
            t.add_column(col, justify="right")
        share = link.get("share_of_theoretical")
        t.add_row(f"{link['bytes_sent']:,}", f"{link['bytes_received']:,}", f"{link['seconds']:.2f}",
                  f"{link['bytes_per_second']:,.0f} B/s", "-" if share is None else f"{share:.0%}")
        tables.append(t)
    return tables


def markdown(report: dict[str, Any]) -> str:
    unit = counter_unit(report)
    dev = report.get("device") or {}
    lines = [
        f"# edgekit validation on {report.get('board', '?')}",
        "",
        f"- model sha256: `{report.get('model_sha256', '?')}`",
        f"- runtime: {dev.get('runtime', '?')}, firmware {dev.get('firmware_version', '?')}, "
        f"counter at {report.get('cycles_hz', 0):,} Hz",
        f"- port: `{report.get('port', '?')}`",
        f"- status: **{report.get('status', '?')}**" + (f" ({report['error']})" if report.get("error") else ""),
        "",
    ]
    task = report.get("task") or {}
    if task.get("metric"):
        lines += [f"## Task metric ({task['metric']})", "", "| device | host int8 | float |", "|---:|---:|---:|",
                  f"| {_fmt(task.get('device'))} | {_fmt(task.get('host_int8'))} | {_fmt(task.get('float'))} |", ""]
    a = report.get("agreement") or {}
    if a:
        lines += ["## Agreement with the host TFLM reference", "",
                  "| samples | exact | max diff (LSB) | cosine min | RMSE |", "|---:|---:|---:|---:|---:|",
                  f"| {a['samples']} | {a['exact_share']:.2%} | {a['max_abs_diff_lsb']} | {a['cosine_min']:.6f} "
                  f"| {a['rmse']:.6g} |", ""]
    lat = report.get("latency") or {}
    if lat.get("runs"):
        keys = ("min", "p50", "p90", "p99", "max")
        lines += [f"## Latency ({lat['runs']} runs after {lat['warmup']} warm-up)", "",
                  "| | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys),
                  f"| {unit} | " + " | ".join(f"{lat['counts'][k]:,.0f}" for k in keys) + " |",
                  ("| virtual µs | " if report.get("virtual") else "| µs | ")
                  + " | ".join(f"{lat['us'][k]:,.1f}" for k in keys) + " |", ""]
        if report.get("virtual"):
            lines += ["Counts on the virtual board are QEMU instructions (-icount shift=0), not CPU cycles;"
                      " use them for regressions and comparisons, not as real-board latency.", ""]
    if report.get("gates"):
        lines += ["## Gates", ""] + [f"- {'pass' if g['passed'] else '**FAIL**'} {g['name']}: {g['message']}"
                                     for g in report["gates"]] + [""]
    return "\n".join(lines)


def junit_xml(report: dict[str, Any]) -> str:
    """One test case for the run itself and one per gate, for CI dashboards."""
    cases = [("run completed", report.get("error"))]
    cases += [(g["name"], None if g["passed"] else g["message"]) for g in report.get("gates", [])]
    failures = sum(1 for _, f in cases if f)
    classname = escape(f"edgekit.hil.{report.get('board', 'board')}")
    body = []
    for name, failure in cases:
        body.append(f'  <testcase classname="{classname}" name={quoteattr(name)}>')
        if failure:
            body.append(f"    <failure message={quoteattr(failure)}/>")
        body.append("  </testcase>")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="edgekit-hil" tests="{len(cases)}" '
            f'failures="{failures}">\n' + "\n".join(body) + "\n</testsuite>\n")


def _plot_png(path: Path, draw: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    draw(ax)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def write_plots(report: dict[str, Any], cycles: list[int], out_dir: Path) -> list[Path]:
    written = []
    lat = report.get("latency") or {}
    if cycles and lat.get("runs"):
        hz = report.get("cycles_hz") or 1
        us = np.asarray(cycles[lat["warmup"]:], dtype=float) * 1e6 / hz
        unit = "virtual µs (QEMU instructions)" if report.get("virtual") else "µs"

        def draw(ax: Any) -> None:
            ax.hist(us, bins=min(50, max(5, len(us) // 4)), color="#2f6db5")
            for k, style in (("p50", "-"), ("p99", "--")):
                ax.axvline(lat["us"][k], color="black", linestyle=style, label=f"{k} {lat['us'][k]:,.1f}")
            ax.set_xlabel(f"latency per inference ({unit})")
            ax.set_ylabel("runs")
            ax.set_title(f"{report.get('board')}: inference latency")
            ax.legend()

        written.append(out_dir / "latency.png")
        _plot_png(written[-1], draw)
    conf = (report.get("task") or {}).get("confusion")
    if conf:
        names = (report.get("task") or {}).get("class_names") or [str(i) for i in range(len(conf))]
        m = np.asarray(conf)

        def draw_conf(ax: Any) -> None:
            ax.imshow(m, cmap="Blues")
            ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
            ax.set_yticks(range(len(names)), names)
            ax.set_xlabel("predicted on device")
            ax.set_ylabel("true")
            for (i, j), v in np.ndenumerate(m):
                ax.text(j, i, str(v), ha="center", va="center", color="white" if v > m.max() / 2 else "black")
            ax.set_title("confusion matrix (device)")

        written.append(out_dir / "confusion.png")
        _plot_png(written[-1], draw_conf)
    return written


def write_report(report: dict[str, Any], out_dir: Path, *, cycles: list[int] | None = None,
                 junit: Path | None = None, plots: bool = True) -> list[Path]:
    """Write report.json, report.md (and PNG plots, JUnit XML); returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "report.json", out_dir / "report.md"]
    atomic_write_text(paths[0], json.dumps(report, indent=2, default=float) + "\n")
    atomic_write_text(paths[1], markdown(report))
    if plots:
        paths += write_plots(report, cycles or [], out_dir)
    if junit:
        atomic_write_text(junit, junit_xml(report))
        paths.append(junit)
    return paths
