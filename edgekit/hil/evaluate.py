"""Turn what a board measured into the figures a validation report gives.

The metric set follows ST Edge AI's "validate on target" and MLPerf Tiny: agreement of the
device's int8 outputs with the host TFLM reference (exact share, max |diff| in LSB, cosine
similarity, RMSE), the task metric on device vs host int8 vs float, and latency after warm-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.model import metrics


def agreement(device_q: np.ndarray, host_q: np.ndarray, scale: float, zero_point: int) -> dict[str, Any]:
    """Device vs host reference int8 outputs (one row per sample)."""
    n = len(device_q)
    d = device_q.reshape(n, -1).astype(np.int32)
    h = host_q.reshape(n, -1).astype(np.int32)
    diff = np.abs(d - h)
    df = (d - zero_point) * scale
    hf = (h - zero_point) * scale
    norms = np.linalg.norm(df, axis=1) * np.linalg.norm(hf, axis=1)
    # Two all-zero outputs are identical: cosine 1 by convention.
    cos = np.where(norms > 0, np.sum(df * hf, axis=1) / np.where(norms > 0, norms, 1), 1.0)
    return {
        "samples": n,
        "exact_share": float(np.mean(np.all(diff == 0, axis=1))) if n else 0.0,
        "exact_elements_share": float(np.mean(diff == 0)) if n else 0.0,
        "max_abs_diff_lsb": int(diff.max()) if n else 0,
        "cosine_min": float(cos.min()) if n else 0.0,
        "cosine_mean": float(cos.mean()) if n else 0.0,
        "rmse": float(np.sqrt(np.mean((df - hf) ** 2))) if n else 0.0,
        "mismatched_samples": [int(i) for i in np.flatnonzero(np.any(diff != 0, axis=1))[:20]],
    }


def latency(cycles: list[int] | np.ndarray, cycles_hz: int, *, warmup: int = 0) -> dict[str, Any]:
    """min/p50/p90/p99/max of per-inference counts after `warmup` runs, in counts and microseconds."""
    c = np.asarray(cycles, dtype=np.float64)[warmup:]
    if c.size == 0:
        return {"runs": 0}
    pct = {f"p{p}": float(np.percentile(c, p)) for p in (50, 90, 99)}
    stats = {"min": float(c.min()), **pct, "max": float(c.max()), "mean": float(c.mean())}
    return {
        "runs": int(c.size), "warmup": warmup, "counts": stats,
        "us": {k: v * 1e6 / cycles_hz for k, v in stats.items()},
    }


@dataclass
class TaskComparison:
    task: str | None
    metric: str | None
    device: float | None = None
    host_int8: float | None = None
    float: float | None = None
    confusion: list[list[int]] | None = None
    class_names: list[str] | None = None


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
    if task == "classification":
        k = int(np.prod(device_out.shape[1:]))
        pred = metrics.predictions(task, x, device_out)
        labels = np.argmax(y, axis=1) if y.ndim == 2 else y.astype(int)
        conf = np.zeros((k, k), dtype=int)
        np.add.at(conf, (labels, pred), 1)
        cmp.confusion = conf.tolist()
    return cmp


@dataclass
class Gates:
    """Thresholds that turn a report into exit code 1 when not met."""

    min_accuracy: float | None = None
    max_latency_ms: float | None = None
    require_exact: bool = False

    def evaluate(self, report: dict[str, Any]) -> list[dict[str, Any]]:
        """One entry per gate asked for: {"name", "passed", "message"}."""
        results: list[dict[str, Any]] = []

        def add(name: str, failure: str | None, ok_message: str) -> None:
            results.append({"name": name, "passed": failure is None, "message": failure or ok_message})

        task = report.get("task") or {}
        if self.min_accuracy is not None:
            value = task.get("device")
            failure = None
            if value is None:
                failure = "--min-accuracy given but the data has no labels to measure it"
            elif task.get("metric") == "mae":
                failure = "--min-accuracy does not apply to a regression model (its metric is MAE)"
            elif value < self.min_accuracy:
                failure = f"on-device {task['metric']} {value:.4f} < required {self.min_accuracy:.4f}"
            add("min-accuracy", failure, f"on-device {task.get('metric')} {value} >= {self.min_accuracy}")
        if self.max_latency_ms is not None:
            p99 = (report.get("latency") or {}).get("us", {}).get("p99")
            failure = None
            if p99 is None:
                failure = "--max-latency-ms given but no latency was measured"
            elif p99 / 1000 > self.max_latency_ms:
                failure = f"p99 latency {p99 / 1000:.3f} ms > allowed {self.max_latency_ms:.3f} ms"
            add("max-latency-ms", failure, f"p99 latency within {self.max_latency_ms} ms")
        if self.require_exact:
            agree = report.get("agreement") or {}
            failure = None
            if agree.get("samples", 0) == 0 or agree.get("exact_share", 0) < 1.0:
                failure = (f"device outputs equal the host reference on {agree.get('exact_share', 0):.2%} of "
                           f"samples (max diff {agree.get('max_abs_diff_lsb', '?')} LSB); --require-exact wants 100%")
            add("require-exact", failure, "every output equals the host reference")
        return results


@dataclass
class LinkStats:
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
    baud: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        total = self.bytes_sent + self.bytes_received
        d: dict[str, Any] = {"bytes_sent": self.bytes_sent, "bytes_received": self.bytes_received,
                             "seconds": self.seconds, **self.extra}
        if self.seconds > 0:
            d["bytes_per_second"] = total / self.seconds
        if self.baud:
            # 8N1: 10 bits on the wire per byte, each direction at full duplex.
            d["theoretical_bytes_per_second"] = self.baud / 10
            if self.seconds > 0:
                d["share_of_theoretical"] = (total / self.seconds) / (self.baud / 10)
        return d
