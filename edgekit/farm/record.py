"""What a farm run adds to a validation report: which place ran which samples, each board's
latency, and what happened to boards that failed (report.json's "farm", its table and Markdown)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rich.table import Table

from edgekit.hil.evaluate import Latency

BoardStatus = Literal["running", "complete", "failed"]


def index_ranges(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted indices as half-open ranges: [0, 1, 2, 7] -> [(0, 3), (7, 8)]."""
    out: list[tuple[int, int]] = []
    for i in sorted(indices):
        if out and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


def ranges_text(ranges: list[tuple[int, int]]) -> str:
    """"0-2, 7" for [(0, 3), (7, 8)]; "-" for none."""
    return ", ".join(f"{a}" if b == a + 1 else f"{a}-{b - 1}" for a, b in ranges) or "-"


@dataclass
class BoardRun:
    """One place's share of a farm run."""

    place: str
    port: str
    flashed: str | None = None          # how it was flashed; None with --no-flash
    samples: list[int] = field(default_factory=list)   # test-input indices this board measured
    latency: Latency | None = None      # its own BENCH runs
    status: BoardStatus = "running"
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """report.json's farm.boards[i]."""
        out: dict[str, Any] = {"place": self.place, "port": self.port, "flashed": self.flashed,
                               "status": self.status, "samples": len(self.samples),
                               "sample_ranges": [list(r) for r in index_ranges(self.samples)]}
        if self.latency is not None:
            out["latency"] = self.latency.to_dict()
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class FarmRecord:
    """The farm part of a report: where the boards came from, each board's share, and events."""

    coordinator: str
    asked: str                                  # "tags board=..." or "place NAME"
    boards: list[BoardRun] = field(default_factory=list)
    events: list[str] = field(default_factory=list)   # a board failed, its samples moved, ...

    def to_dict(self) -> dict[str, Any]:
        """report.json's "farm"."""
        return {"coordinator": self.coordinator, "asked": self.asked,
                "boards": [b.to_dict() for b in self.boards], "events": list(self.events)}

    def table(self, unit: str) -> Table:
        """The console table: one row per board, numbers and ids never cut."""
        t = Table(title=f"boards (labgrid {self.coordinator}, {self.asked})")
        for col, justify in (("place", "left"), ("status", "left"), ("samples", "right"),
                             ("which", "left"), (f"p50 {unit}", "right"), ("p99 µs", "right")):
            t.add_column(col, justify=justify, overflow="fold", no_wrap=col != "which")  # type: ignore[arg-type]
        for b in self.boards:
            lat = b.latency
            t.add_row(b.place, b.status, f"{len(b.samples):,}", ranges_text(index_ranges(b.samples)),
                      f"{lat.counts.p50:,.0f}" if lat and lat.counts else "-",
                      f"{lat.us.p99:,.1f}" if lat and lat.us else "-")
        if self.events:
            t.caption = "; ".join(self.events)
        return t

    def markdown(self, unit: str) -> list[str]:
        """report.md's "Boards" section."""
        lines = [f"## Boards (labgrid {self.coordinator}, {self.asked})", "",
                 f"| place | status | samples | which | p50 {unit} | p99 µs |", "|---|---|---:|---|---:|---:|"]
        for b in self.boards:
            lat = b.latency
            lines.append(f"| {b.place} | {b.status} | {len(b.samples):,} | {ranges_text(index_ranges(b.samples))} | "
                         + (f"{lat.counts.p50:,.0f}" if lat and lat.counts else "-") + " | "
                         + (f"{lat.us.p99:,.1f}" if lat and lat.us else "-") + " |")
        return lines + [""] + [f"- {e}" for e in self.events] + ([""] if self.events else [])


__all__ = ["BoardRun", "BoardStatus", "FarmRecord", "index_ranges", "ranges_text"]
