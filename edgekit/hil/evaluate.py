"""Turn what a board measured into the figures a validation report gives.

The metric set follows ST Edge AI's "validate on target" and MLPerf Tiny: agreement of the
device's int8 outputs with the host TFLM reference (exact share, max |diff| in LSB, cosine
similarity, RMSE), the task metric on device vs host int8 vs float, and latency after warm-up.
Each figure is a small dataclass whose ``to_dict`` gives its part of report.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from edgekit.model import metrics


@dataclass
class Agreement:
    """Device vs host reference int8 outputs."""

    samples: int
    exact_share: float                 # share of samples whose whole output is identical
    exact_elements_share: float        # share of output elements that are identical
    max_abs_diff_lsb: int
    cosine_min: float                  # cosine similarity of the dequantized outputs
    cosine_mean: float
    rmse: float                        # in real (dequantized) units
    mismatched_samples: list[int] = field(default_factory=list)  # the first 20 indices
    unit: str = "LSB"                  # of max_abs_diff_lsb: "ULP" for float32 outputs

    def to_dict(self) -> dict[str, Any]:
        """report.json's "agreement"."""
        return asdict(self)


def agreement(device_q: np.ndarray, host_q: np.ndarray, scale: float, zero_point: int) -> Agreement:
    """Device vs host reference outputs (one row per sample), compared in the output's own type
    (int8, uint8, int16, int32): differences in LSB of that type. float32 outputs (an integer
    model's DEQUANTIZE) are exact only bit for bit, and differ by units in the last place."""
    return agreement_of([(device_q, host_q, scale, zero_point)])


def agreement_of(outputs: list[tuple[np.ndarray, np.ndarray, float, int]]) -> Agreement:
    """The agreement of several outputs at once (device, host, scale, zero point each): a sample
    is exact when every output is; differences are in each output's own LSB (or ULP), cosine and
    RMSE over all outputs' real values."""
    n = len(outputs[0][0])
    kinds = {dev.dtype.kind == "f" for dev, _, _, _ in outputs}
    unit = "ULP" if kinds == {True} else "LSB" if kinds == {False} else "LSB/ULP"
    if n == 0:
        return Agreement(0, 0.0, 0.0, 0, 0.0, 0.0, 0.0, [], unit)
    sames, diffs, dfs, hfs = [], [], [], []
    for device_q, host_q, scale, zero_point in outputs:
        d, h = _steps(device_q.reshape(n, -1)), _steps(host_q.reshape(n, -1))
        diffs.append(np.abs(d - h))
        if device_q.dtype.kind == "f":  # -0.0 and +0.0 are 0 ULP apart but not the same bits
            sames.append(device_q.reshape(n, -1).view(np.uint32)
                         == host_q.reshape(n, -1).astype(np.float32).view(np.uint32))
            dfs.append(device_q.reshape(n, -1).astype(np.float64))
            hfs.append(host_q.reshape(n, -1).astype(np.float64))
        else:
            sames.append(diffs[-1] == 0)
            dfs.append((d - zero_point) * scale)
            hfs.append((h - zero_point) * scale)
    same, diff = np.concatenate(sames, axis=1), np.concatenate(diffs, axis=1)
    df, hf = np.concatenate(dfs, axis=1), np.concatenate(hfs, axis=1)
    norms = np.linalg.norm(df, axis=1) * np.linalg.norm(hf, axis=1)
    # Two all-zero outputs are identical: cosine 1 by convention.
    cos = np.where(norms > 0, np.sum(df * hf, axis=1) / np.where(norms > 0, norms, 1), 1.0)
    return Agreement(
        samples=n,
        exact_share=float(np.mean(np.all(same, axis=1))),
        exact_elements_share=float(np.mean(same)),
        max_abs_diff_lsb=int(diff.max()),
        cosine_min=float(cos.min()),
        cosine_mean=float(cos.mean()),
        rmse=float(np.sqrt(np.mean((df - hf) ** 2))),
        mismatched_samples=[int(i) for i in np.flatnonzero(~np.all(same, axis=1))[:20]],
        unit=unit,
    )


def _steps(a: np.ndarray) -> np.ndarray:
    """int64 values whose differences count LSB: the integers themselves (int64: int32 outputs
    differ by up to 2^32), or a float32's position among all floats (differences in ULP)."""
    if a.dtype.kind != "f":
        return a.astype(np.int64)
    bits = a.astype(np.float32).view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(1 << 31) - bits, bits)


@dataclass
class LatencyFigures:
    """Summary statistics of per-inference counts (or of the same in microseconds)."""

    min: float
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    def in_microseconds(self, cycles_hz: int) -> LatencyFigures:
        """These counts converted to microseconds with a counter at `cycles_hz`."""
        return LatencyFigures(*(v * 1e6 / cycles_hz for v in asdict(self).values()))


@dataclass
class Latency:
    """Per-inference counts after `warmup` runs, in counter units and in microseconds.

    `counts`/`us` are None when no run was left after the warm-up; `source` says what was
    timed (BENCH runs or the INFER replies), when the harness knows it.
    """

    runs: int
    warmup: int = 0
    counts: LatencyFigures | None = None
    us: LatencyFigures | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """report.json's "latency" / "infer_cycles"; a record with no run left is just {"runs": 0}."""
        out: dict[str, Any] = {"runs": self.runs}
        if self.counts is not None or self.source is not None:
            out["warmup"] = self.warmup
        if self.counts is not None and self.us is not None:
            out["counts"], out["us"] = asdict(self.counts), asdict(self.us)
        if self.source is not None:
            out["source"] = self.source
        return out


def latency(cycles: list[int] | np.ndarray, cycles_hz: int, *, warmup: int = 0) -> Latency:
    """min/p50/p90/p99/max of per-inference counts after `warmup` runs, in counts and microseconds."""
    c = np.asarray(cycles, dtype=np.float64)[warmup:]
    if c.size == 0:
        return Latency(0)
    p50, p90, p99 = (float(np.percentile(c, p)) for p in (50, 90, 99))
    counts = LatencyFigures(float(c.min()), p50, p90, p99, float(c.max()), float(c.mean()))
    return Latency(int(c.size), warmup, counts, counts.in_microseconds(cycles_hz))


@dataclass
class TaskComparison:
    """The task metric on the device's outputs vs the host int8 reference vs the float model."""

    task: str | None
    metric: str | None
    device: float | None = None
    host_int8: float | None = None
    float: float | None = None
    confusion: list[list[int]] | None = None
    class_names: list[str] | None = None
    # Figures beside the metric (metrics.EXTRA_METRICS), e.g. {"top3_accuracy": {"device": ...}}
    extra: dict[str, dict[str, Any]] | None = None  # ("float" is a field name here)

    def to_dict(self) -> dict[str, Any]:
        """report.json's "task" (every field, None where not measured)."""
        return asdict(self)


def task_comparison(task: str | None, x: np.ndarray, y: np.ndarray | None, device_out: np.ndarray,
                    host_out: np.ndarray, float_out: np.ndarray | None,
                    class_names: list[str] | None = None) -> TaskComparison:
    """Task metric on the device's (dequantized) outputs vs host int8 vs float."""
    if task is None or y is None or len(y) == 0:
        return TaskComparison(None, None)
    y = y[: len(device_out)]
    x = x[: len(device_out)]
    cmp = TaskComparison(task, metrics.METRIC_OF_TASK[task], class_names=class_names)
    cmp.device = metrics.task_metric(task, x, y, device_out)
    cmp.host_int8 = metrics.task_metric(task, x, y, host_out)
    if float_out is not None:
        cmp.float = metrics.task_metric(task, x, y, float_out[: len(device_out)])
    runs = {"device": device_out, "host_int8": host_out}
    if float_out is not None:
        runs["float"] = float_out[: len(device_out)]
    extra: dict[str, dict[str, float]] = {}
    for where, out in runs.items():
        for name, value in metrics.extra_metrics(task, y, out, kind_of=runs.get("float", host_out)).items():
            extra.setdefault(name, {})[where] = value
    cmp.extra = extra or None
    if task == "classification":
        labels, scores = metrics.class_view(y, device_out)
        k, pred = scores.shape[1], np.argmax(scores, axis=1)
        conf = np.zeros((k, k), dtype=int)
        np.add.at(conf, (labels, pred), 1)
        cmp.confusion = conf.tolist()
    return cmp


@dataclass
class OutputFigures:
    """One output of a model with several: its agreement with the host reference and task metric."""

    name: str
    agreement: Agreement
    task: TaskComparison

    def to_dict(self) -> dict[str, Any]:
        """One entry of report.json's "outputs"."""
        return {"name": self.name, "agreement": self.agreement.to_dict(), "task": self.task.to_dict()}


@dataclass
class LinkStats:
    """Bytes moved over the link while the test inputs were sent, and the throughput."""

    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
    baud: int | None = None                        # None for ptys and sockets (no line rate)
    inferences_per_second: float | None = None
    resends: int = 0                               # requests resent after a timeout or BAD_CRC

    @property
    def bytes_per_second(self) -> float | None:
        """Both directions together."""
        return (self.bytes_sent + self.bytes_received) / self.seconds if self.seconds > 0 else None

    @property
    def theoretical_bytes_per_second(self) -> float | None:
        """What the UART line rate allows one way; None without a baud rate."""
        # 8N1: 10 bits on the wire per byte, each direction at full duplex.
        return self.baud / 10 if self.baud else None

    @property
    def share_of_theoretical(self) -> float | None:
        """Measured throughput over the line rate's."""
        bps, theory = self.bytes_per_second, self.theoretical_bytes_per_second
        return bps / theory if bps is not None and theory else None

    def to_dict(self) -> dict[str, Any]:
        """report.json's "link"."""
        d: dict[str, Any] = {"bytes_sent": self.bytes_sent, "bytes_received": self.bytes_received,
                             "seconds": self.seconds, "inferences_per_second": self.inferences_per_second,
                             "resends": self.resends}
        if self.bytes_per_second is not None:
            d["bytes_per_second"] = self.bytes_per_second
        if self.theoretical_bytes_per_second is not None:
            d["theoretical_bytes_per_second"] = self.theoretical_bytes_per_second
        if self.share_of_theoretical is not None:
            d["share_of_theoretical"] = self.share_of_theoretical
        return d


@dataclass
class GateResult:
    """One gate asked for: met or not, and why."""

    name: str
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        """One entry of report.json's "gates"."""
        return asdict(self)


class Measured(Protocol):
    """What the gates read of a report (edgekit.hil.report.HilReport)."""

    task: TaskComparison | None
    latency: Latency | None
    agreement: Agreement | None


@dataclass
class Gates:
    """Thresholds that turn a report into exit code 1 when not met."""

    min_accuracy: float | None = None
    max_latency_ms: float | None = None
    require_exact: bool = False

    def evaluate(self, report: Measured) -> list[GateResult]:
        """One result per gate asked for, in the order min-accuracy, max-latency-ms, require-exact."""
        results: list[GateResult] = []

        def add(name: str, failure: str | None, ok_message: str) -> None:
            results.append(GateResult(name, failure is None, failure or ok_message))

        task = report.task or TaskComparison(None, None)
        if self.min_accuracy is not None:
            value = task.device
            failure = None
            if value is None:
                failure = "--min-accuracy given but the data has no labels to measure it"
            elif task.metric == "mae":
                failure = "--min-accuracy does not apply to a regression model (its metric is MAE)"
            elif value < self.min_accuracy:
                failure = f"on-device {task.metric} {value:.4f} < required {self.min_accuracy:.4f}"
            add("min-accuracy", failure, f"on-device {task.metric} {value} >= {self.min_accuracy}")
        if self.max_latency_ms is not None:
            p99 = report.latency.us.p99 if report.latency and report.latency.us else None
            failure = None
            if p99 is None:
                failure = "--max-latency-ms given but no latency was measured"
            elif p99 / 1000 > self.max_latency_ms:
                failure = f"p99 latency {p99 / 1000:.3f} ms > allowed {self.max_latency_ms:.3f} ms"
            add("max-latency-ms", failure, f"p99 latency within {self.max_latency_ms} ms")
        if self.require_exact:
            agree = report.agreement
            failure = None
            if agree is None or agree.samples == 0 or agree.exact_share < 1.0:
                share = agree.exact_share if agree else 0
                max_diff = f"{agree.max_abs_diff_lsb} {agree.unit}" if agree else "?"
                failure = (f"device outputs equal the host reference on {share:.2%} of "
                           f"samples (max diff {max_diff}); --require-exact wants 100%")
            add("require-exact", failure, "every output equals the host reference")
        return results


__all__ = ["Agreement", "GateResult", "Gates", "Latency", "LatencyFigures", "LinkStats", "OutputFigures",
           "TaskComparison", "agreement", "agreement_of", "latency", "task_comparison"]
