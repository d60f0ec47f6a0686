"""Validation reports: the typed :class:`HilReport`, and its console tables, JSON, Markdown,
PNG plots and JUnit XML.

:meth:`HilReport.to_dict` is the one place that spells report.json's keys; every writer reads
the report's fields. Writers go through temporary files and renames, so a report on disk is
always whole; the harness writes a partial report as it goes, so nothing measured is lost
when a run fails.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from rich.table import Table

from edgekit.data import atomic_write_bytes, atomic_write_text
from edgekit.farm.record import FarmRecord
from edgekit.hil.evaluate import Agreement, GateResult, Latency, LinkStats, OutputFigures, TaskComparison
from edgekit.hil.profile import LayerProfile
from edgekit.hil.profile_report import PROFILE_PNG, profile_markdown, profile_tables, write_profile_png
from edgekit.hil.protocol import DeviceInfo

Status = Literal["running", "complete", "failed"]
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
_PERCENTILES = ("min", "p50", "p90", "p99", "max")
MIN_PLOT_RUNS = 5  # fewer timed runs than this make no histogram


@dataclass
class DeviceRecord:
    """What the board said about itself (its INFO reply), as far as a report needs it."""

    board_id: str
    firmware_version: str
    runtime: str
    arena_bytes: int
    max_payload: int

    @classmethod
    def from_info(cls, info: DeviceInfo) -> DeviceRecord:
        """The record of an INFO reply."""
        return cls(info.board_id, info.firmware_version, info.runtime, info.arena_bytes, info.max_payload)


@dataclass
class HilReport:
    """One validation run: what was asked, what the board is, and every figure measured.

    Filled in as the run goes (status "running"), then "complete" or "failed" with `error`.
    Optional parts are None until measured and then left out of report.json.
    """

    edgekit_version: str
    board: str
    virtual: bool
    project: str
    model_sha256: str
    data: str
    samples_planned: int
    host_reference: str
    status: Status = "running"
    error: str | None = None
    port: str | None = None
    qemu_argv: list[str] | None = None     # the virtual board's command line, when hil started it
    device: DeviceRecord | None = None
    cycles_hz: int | None = None
    samples_measured: int = 0
    agreement: Agreement | None = None
    task: TaskComparison | None = None
    infer_cycles: Latency | None = None    # the INFER replies, every test input once
    latency: Latency | None = None         # what latency gates and tables use
    link: LinkStats | None = None
    profile: LayerProfile | None = None    # per-op counts of one invoke (hil --profile)
    gates: list[GateResult] | None = None  # evaluated once the run is over
    farm: FarmRecord | None = None         # the boards of a labgrid farm run (hil --place / --farm)
    # A model with several outputs: each one's agreement and task metric (`agreement` then holds
    # all outputs together, `task` the first output's); None for one output.
    outputs: list[OutputFigures] | None = None
    # A decode step (its KV cache on the device): INFERs per test input, one per position; the
    # latencies are then per token.
    decode_steps: int | None = None

    @property
    def counter_unit(self) -> str:
        """Cycles on silicon; instructions on QEMU (-icount shift=0), never to be called cycles."""
        return "instructions" if self.virtual else "cycles"

    def to_dict(self) -> dict[str, Any]:
        """report.json's content."""
        out: dict[str, Any] = {
            "edgekit_version": self.edgekit_version, "board": self.board, "virtual": self.virtual,
            "project": self.project, "model_sha256": self.model_sha256, "data": self.data,
            "samples_planned": self.samples_planned, "host_reference": self.host_reference,
            "status": self.status, "error": self.error,
        }
        if self.port is not None:
            out["port"] = self.port
        if self.qemu_argv is not None:
            out["virtual_board"] = {"argv": list(self.qemu_argv)}
        if self.device is not None:
            out["device"] = asdict(self.device)
        if self.cycles_hz is not None:
            out["cycles_hz"] = self.cycles_hz
        out["samples_measured"] = self.samples_measured
        if self.decode_steps is not None:
            out["decode_steps"] = self.decode_steps
        parts: dict[str, Agreement | TaskComparison | Latency | LinkStats | LayerProfile | None] = {
            "agreement": self.agreement, "task": self.task, "infer_cycles": self.infer_cycles,
            "latency": self.latency, "link": self.link, "profile": self.profile}
        out.update({key: part.to_dict() for key, part in parts.items() if part is not None})
        if self.outputs is not None:
            out["outputs"] = [o.to_dict() for o in self.outputs]
        if self.gates is not None:
            out["gates"] = [g.to_dict() for g in self.gates]
        if self.farm is not None:
            out["farm"] = self.farm.to_dict()
        return out

    def to_json(self) -> str:
        """report.json's text."""
        return json.dumps(self.to_dict(), indent=2, default=float) + "\n"


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def console_tables(report: HilReport) -> list[Table]:
    """Rich tables for the terminal: task metric, agreement, latency, link."""
    tables = []
    task, a, lat, link = report.task, report.agreement, report.latency, report.link
    if report.outputs:
        t = Table(title=f"each output on {a.samples if a else 0} test samples")
        for col in OUTPUT_COLUMNS:
            t.add_column(col, justify="left" if col in ("output", "metric") else "right")
        for row in output_rows(report.outputs):
            t.add_row(*row)
        tables.append(t)
    if task is not None and task.metric:
        if not report.outputs:   # else the outputs' table has it
            t = Table(title=f"{task.metric} on {a.samples if a else 0} test samples")
            for col in ("device", f"host int8 ({report.host_reference})", "float"):
                t.add_column(col, justify="right")
            t.add_row(_fmt(task.device), _fmt(task.host_int8), _fmt(task.float))
            tables.append(t)
        for name, v in (task.extra or {}).items():   # e.g. next-word's top-3 accuracy
            t = Table(title=f"{name} (reported beside the metric)")
            for col in ("device", f"host int8 ({report.host_reference})", "float"):
                t.add_column(col, justify="right")
            t.add_row(_fmt(v.get("device")), _fmt(v.get("host_int8")), _fmt(v.get("float")))
            tables.append(t)
    if a is not None:
        t = Table(title=f"agreement with the host reference ({report.host_reference})")
        for col in ("samples", "exact", "max |diff|", "cosine (min)", "RMSE"):
            t.add_column(col, justify="right")
        t.add_row(str(a.samples), f"{a.exact_share:.2%}", f"{a.max_abs_diff_lsb} {a.unit}",
                  f"{a.cosine_min:.6f}", f"{a.rmse:.6g}")
        tables.append(t)
    if lat is not None and lat.runs and lat.counts and lat.us:
        time_unit = "virtual µs" if report.virtual else "µs"
        per = ", per token: one decode step" if report.decode_steps else ""
        t = Table(title=f"latency after {lat.warmup} warm-up runs ({lat.runs} runs{per})")
        t.add_column("")
        for col in _PERCENTILES:
            t.add_column(col, justify="right")
        t.add_row(report.counter_unit, *(f"{getattr(lat.counts, k):,.0f}" for k in _PERCENTILES))
        t.add_row(time_unit, *(f"{getattr(lat.us, k):,.1f}" for k in _PERCENTILES))
        t.caption = latency_plot_note(report)
        tables.append(t)
    if link is not None and link.bytes_per_second:
        t = Table(title="link")
        for col in ("bytes sent", "bytes received", "seconds", "throughput", "of theoretical"):
            t.add_column(col, justify="right")
        share = link.share_of_theoretical
        t.add_row(f"{link.bytes_sent:,}", f"{link.bytes_received:,}", f"{link.seconds:.2f}",
                  f"{link.bytes_per_second:,.0f} B/s", "-" if share is None else f"{share:.0%}")
        tables.append(t)
    if report.profile is not None:
        tables.extend(profile_tables(report.profile))
    if report.farm is not None:
        tables.append(report.farm.table(report.counter_unit))
    return tables


OUTPUT_COLUMNS = ("output", "metric", "device", "host int8", "float", "exact", "max |diff|")


def output_rows(outputs: list[OutputFigures]) -> list[tuple[str, ...]]:
    """One row per output: its metric on device, host and float, and its agreement."""
    return [(o.name, o.task.metric or "-", _fmt(o.task.device), _fmt(o.task.host_int8), _fmt(o.task.float),
             f"{o.agreement.exact_share:.2%}", f"{o.agreement.max_abs_diff_lsb} {o.agreement.unit}")
            for o in outputs]


def latency_plot_note(report: HilReport) -> str | None:
    """Why the latency histogram would say nothing (too few timed runs, or every run the same
    count, as on QEMU), or None when it is worth drawing."""
    lat = report.latency
    if lat is None or lat.counts is None:
        return None
    if lat.runs < MIN_PLOT_RUNS:
        return (f"only {lat.runs} timed run{'s' if lat.runs != 1 else ''}: too few for a latency histogram "
                f"(it needs {MIN_PLOT_RUNS}); see the figures above")
    if lat.counts.min == lat.counts.max:
        why = " (the virtual board counts instructions, so every run costs the same)" if report.virtual else ""
        return (f"all {lat.runs} timed runs took {lat.counts.min:,.0f} {report.counter_unit}{why}: "
                "no spread to plot")
    return None


def markdown(report: HilReport) -> str:
    """report.md: the same figures as the console tables, for a CI artifact or a PR comment."""
    dev = report.device
    lines = [
        f"# edgekit validation on {report.board}",
        "",
        f"- model sha256: `{report.model_sha256}`",
        f"- runtime: {dev.runtime if dev else '?'}, firmware {dev.firmware_version if dev else '?'}, "
        f"counter at {report.cycles_hz or 0:,} Hz",
        f"- port: `{report.port or '?'}`",
        f"- status: **{report.status}**" + (f" ({report.error})" if report.error else ""),
        *([f"- decode step: {report.decode_steps} INFERs per test input, its KV cache on the device; "
           "latencies are per token"] if report.decode_steps else []),
        "",
    ]
    task, a, lat = report.task, report.agreement, report.latency
    if report.outputs:
        lines += ["## Each output", "", "| " + " | ".join(OUTPUT_COLUMNS) + " |", "|---|---|" + "---:|" * 5]
        lines += ["| " + " | ".join(row) + " |" for row in output_rows(report.outputs)] + [""]
    if task is not None and task.metric:
        first = ", first output" if report.outputs else ""
        lines += [f"## Task metric ({task.metric}{first})", "", "| device | host int8 | float |", "|---:|---:|---:|",
                  f"| {_fmt(task.device)} | {_fmt(task.host_int8)} | {_fmt(task.float)} |", ""]
        for name, v in (task.extra or {}).items():
            lines += [f"{name}: device {_fmt(v.get('device'))}, host int8 {_fmt(v.get('host_int8'))}, "
                      f"float {_fmt(v.get('float'))}", ""]
    if a is not None:
        lines += [f"## Agreement with the host reference ({report.host_reference})", "",
                  "| samples | exact | max diff | cosine min | RMSE |", "|---:|---:|---:|---:|---:|",
                  f"| {a.samples} | {a.exact_share:.2%} | {a.max_abs_diff_lsb} {a.unit} | {a.cosine_min:.6f} "
                  f"| {a.rmse:.6g} |", ""]
    if lat is not None and lat.runs and lat.counts and lat.us:
        lines += [f"## Latency ({lat.runs} runs after {lat.warmup} warm-up)", "",
                  "| | " + " | ".join(_PERCENTILES) + " |", "|---|" + "---:|" * len(_PERCENTILES),
                  f"| {report.counter_unit} | "
                  + " | ".join(f"{getattr(lat.counts, k):,.0f}" for k in _PERCENTILES) + " |",
                  ("| virtual µs | " if report.virtual else "| µs | ")
                  + " | ".join(f"{getattr(lat.us, k):,.1f}" for k in _PERCENTILES) + " |", ""]
        note = latency_plot_note(report)
        if note:
            lines += [f"Latency plot: {note}.", ""]
        if report.virtual:
            lines += ["Counts on the virtual board are QEMU instructions (-icount shift=0), not CPU cycles;"
                      " use them for regressions and comparisons, not as real-board latency.", ""]
    if report.profile is not None:
        lines += profile_markdown(report.profile)
    if report.farm is not None:
        lines += report.farm.markdown(report.counter_unit)
    if report.gates:
        lines += ["## Gates", ""] + [f"- {'pass' if g.passed else '**FAIL**'} {g.name}: {g.message}"
                                     for g in report.gates] + [""]
    return "\n".join(lines)


def junit_xml(report: HilReport) -> str:
    """One test case for the run itself and one per gate, for CI dashboards."""
    cases = [("run completed", report.error)]
    cases += [(g.name, None if g.passed else g.message) for g in report.gates or []]
    failures = sum(1 for _, f in cases if f)
    classname = escape(f"edgekit.hil.{report.board}")
    body = []
    for name, failure in cases:
        body.append(f'  <testcase classname="{classname}" name={quoteattr(name)}>')
        if failure:
            body.append(f"    <failure message={quoteattr(failure)}/>")
        body.append("  </testcase>")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="edgekit-hil" tests="{len(cases)}" '
            f'failures="{failures}">\n' + "\n".join(body) + "\n</testsuite>\n")


#: Classes up to which the confusion plot names its rows and columns, and prints each count.
CONFUSION_NAMED, CONFUSION_COUNTED = 40, 16


def _plot_png(path: Path, draw: Callable[[Any], None]) -> None:
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


def timed_runs(report: HilReport, cycles: list[int]) -> list[int]:
    """The timed runs among `cycles`: its last `latency.runs` counts (BENCH replies hold only
    timed runs; INFER counts start with the warm-up, already counted out of `runs`)."""
    lat = report.latency
    if lat is None or not lat.runs:
        return []
    return list(cycles[-lat.runs:])


def write_plots(report: HilReport, cycles: list[int], out_dir: Path) -> list[Path]:
    """latency.png (histogram of the timed runs among `cycles`, or a note saying why there is
    nothing to plot), confusion.png (classification) and profile.png (per-op profile)."""
    written = []
    lat = report.latency
    runs = timed_runs(report, cycles)
    if runs and lat is not None and lat.us is not None:
        lat_us = lat.us
        us = np.asarray(runs, dtype=float) * 1e6 / (report.cycles_hz or 1)
        unit = "virtual µs (QEMU instructions)" if report.virtual else "µs"
        note = latency_plot_note(report)

        def draw(ax: Any) -> None:
            if note:
                ax.set_axis_off()
                ax.set_title(f"{report.board}: inference latency")
                ax.text(0.5, 0.5, f"{note}\n\np50 {lat_us.p50:,.1f} {unit}", ha="center", va="center",
                        wrap=True, transform=ax.transAxes)
                return
            ax.hist(us, bins=min(50, max(5, len(us) // 4)), color="#2f6db5")
            for k, style in (("p50", "-"), ("p99", "--")):
                value = getattr(lat_us, k)
                ax.axvline(value, color="black", linestyle=style, label=f"{k} {value:,.1f}")
            ax.set_xlabel(f"latency per inference ({unit})")
            ax.set_ylabel("runs")
            ax.set_title(f"{report.board}: inference latency")
            ax.legend()

        written.append(out_dir / "latency.png")
        _plot_png(written[-1], draw)
    conf = report.task.confusion if report.task else None
    if conf:
        names = (report.task.class_names if report.task else None) or [str(i) for i in range(len(conf))]
        m = np.asarray(conf)

        def draw_conf(ax: Any) -> None:
            ax.imshow(m, cmap="Blues")
            # Names and counts only where they can be read: a language model's 512 classes
            # would be 262,144 text labels (minutes of drawing, an unreadable picture).
            if len(names) <= CONFUSION_NAMED:
                ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
                ax.set_yticks(range(len(names)), names)
            ax.set_xlabel("predicted on device")
            ax.set_ylabel("true")
            if len(names) <= CONFUSION_COUNTED:
                for (i, j), v in np.ndenumerate(m):
                    ax.text(j, i, str(v), ha="center", va="center", color="white" if v > m.max() / 2 else "black")
            ax.set_title("confusion matrix (device)")

        written.append(out_dir / "confusion.png")
        _plot_png(written[-1], draw_conf)
    if report.profile is not None:
        written.append(write_profile_png(report.profile, out_dir / PROFILE_PNG, f"{report.board}: per-op profile"))
    return written


def write_report(report: HilReport, out_dir: Path, *, cycles: list[int] | None = None,
                 junit: Path | None = None, plots: bool = True) -> list[Path]:
    """Write report.json, report.md (and PNG plots, JUnit XML); returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / REPORT_JSON, out_dir / REPORT_MD]
    atomic_write_text(paths[0], report.to_json())
    atomic_write_text(paths[1], markdown(report))
    if plots:
        paths += write_plots(report, cycles or [], out_dir)
    if junit:
        atomic_write_text(junit, junit_xml(report))
        paths.append(junit)
    return paths


__all__ = ["DeviceRecord", "HilReport", "MIN_PLOT_RUNS", "REPORT_JSON", "REPORT_MD", "console_tables", "junit_xml",
           "latency_plot_note", "markdown", "timed_runs", "write_plots", "write_report"]
