"""What `edgekit compare` measured: one :class:`VariantResult` per runtime variant (a
:class:`~edgekit.runtimes.base.Variant`), gathered in a :class:`Comparison` with the ratios to
the baseline (edgekit-rt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edgekit.hil.cycles import CycleProfile
from edgekit.hil.evaluate import Agreement, Latency
from edgekit.hil.profile import LayerProfile
from edgekit.project.size import SizeReport
from edgekit.runtimes import EDGEKIT_RT
from edgekit.runtimes.base import Variant

Metric = Literal["latency", "arena", "flash", "ram"]
METRICS: tuple[Metric, ...] = ("latency", "arena", "flash", "ram")
RATIO_METRICS: tuple[Metric, ...] = ("latency", "flash", "ram")   # the table's "x edgekit-rt" columns
@dataclass(frozen=True)
class BuildTimes:
    """Wall time of the first build (empty build directory) and of a rebuild with nothing
    changed; for tflm on STM32, whether the TFLM library came from the cache and how many
    TFLM sources the first build compiled into it."""

    first_s: float
    rebuild_s: float
    tflm_cached: bool | None = None
    tflm_compiled: int | None = None


@dataclass
class VariantResult:
    """What one variant measured, or the error that stopped it (`error`)."""

    variant: Variant
    project_dir: Path | None = None
    error: str | None = None
    build: BuildTimes | None = None
    size: SizeReport | None = None
    arena_bytes: int | None = None
    agreement: Agreement | None = None
    latency: Latency | None = None
    profile: LayerProfile | None = None
    report_dir: Path | None = None
    cycles: CycleProfile | None = None   # estimated Cortex-M4 cycles of one invoke (virtual board, --cycles)

    @property
    def ok(self) -> bool:
        """The variant ran to the end."""
        return self.error is None and self.agreement is not None

    @property
    def exact(self) -> bool:
        """Every output of every sample equals the host TFLM reference."""
        a = self.agreement
        return self.ok and a is not None and a.samples > 0 and a.exact_share == 1.0

    def value(self, metric: Metric) -> float | None:
        """The figure of `metric`: latency p50 (counter units), or arena/flash/RAM bytes."""
        if metric == "latency":
            counts = self.latency.counts if self.latency else None
            return counts.p50 if counts else None
        if metric == "arena":
            return self.arena_bytes
        if self.size is None:
            return None
        return self.size.flash_used if metric == "flash" else self.size.ram_used


@dataclass
class Comparison:
    """Every variant's result for one model on one board, with the notes the run made."""

    model: Path
    model_sha256: str
    board: str
    virtual: bool
    data: str
    samples: int
    results: list[VariantResult]
    notes: list[str] = field(default_factory=list)
    out_dir: Path | None = None
    files: list[Path] = field(default_factory=list)   # what compare.report wrote

    @property
    def unit(self) -> str:
        """What the latency counts: instructions on the virtual board (QEMU -icount), else cycles."""
        return "instructions" if self.virtual else "cycles"

    @property
    def baseline(self) -> VariantResult | None:
        """The result ratios are taken against: edgekit-rt's when it ran, else the first that ran."""
        ran = [r for r in self.results if r.ok]
        return next((r for r in ran if r.variant.runtime == EDGEKIT_RT), ran[0] if ran else None)

    def ratio(self, result: VariantResult, metric: Metric) -> float | None:
        """`result`'s figure over the baseline's (None when either is missing or zero)."""
        base = self.baseline
        mine, theirs = result.value(metric), base.value(metric) if base else None
        return mine / theirs if mine is not None and theirs else None

    @property
    def all_exact(self) -> bool:
        """Every variant ran and every one was exact."""
        return bool(self.results) and all(r.exact for r in self.results)

    @property
    def problems(self) -> list[str]:
        """One line per variant that failed or was not exact (what makes the exit code 1)."""
        out = []
        for r in self.results:
            if r.error is not None:
                out.append(f"{r.variant.label} failed: {r.error}")
            elif not r.exact:
                share = r.agreement.exact_share if r.agreement else 0.0
                out.append(f"{r.variant.label} is not exact ({share:.1%} of samples equal the host reference)")
        return out


__all__ = ["BuildTimes", "Comparison", "METRICS", "Metric", "RATIO_METRICS", "VariantResult"]
