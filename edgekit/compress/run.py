"""`edgekit compress`: load the model and data, search, write the model and the report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.boards import Board
from edgekit.compress.budget import board_budget, describe_overflow
from edgekit.compress.distill import FineTune
from edgekit.compress.report import JSON_FILE, MARKDOWN_FILE, PNG_FILE, CompressionReport, pareto_front, write_report
from edgekit.compress.search import METHODS, Data, drop_points, search, within_drop
from edgekit.compress.taylor import IMPORTANCES
from edgekit.data import atomic_path, atomic_write_bytes, fit_to_input, load_dataset, output_dir
from edgekit.errors import DataError, GateFailed, UsageError
from edgekit.model.metrics import HIGHER_IS_BETTER
from edgekit.runtimes import AUTO

KERAS_FILE, TFLITE_FILE = "compressed.keras", "compressed.tflite"


class DoesNotFit(GateFailed):
    """No candidate fits the budget, or the best one loses more than the allowed drop (exit 1)."""


@dataclass
class CompressionResult:
    """The report and the files written (no model files when nothing fits)."""

    report: CompressionReport
    keras_model: Path | None
    tflite_model: Path | None
    report_files: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """`edgekit compress --json`: the report and the paths."""
        return {**self.report.to_dict(), "keras_model": str(self.keras_model) if self.keras_model else None,
                "tflite_model": str(self.tflite_model) if self.tflite_model else None,
                "report_files": [str(p) for p in self.report_files]}


def parse_methods(text: str) -> tuple[str, ...]:
    """"prune,lowrank" -> ("prune", "lowrank"); UsageError naming an unknown method."""
    methods = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise UsageError(f"unknown compression method '{unknown[0] if unknown else text}'",
                         hint=f"use a comma-separated list of: {', '.join(METHODS)}")
    return methods


def default_out_dir(model: Path) -> Path:
    """Where compress writes by default: MODEL's directory / MODEL-compressed."""
    return model.parent / f"{model.stem}-compressed"


def _load_data(data_path: Path, model: Any, task: str | None, where: str) -> Data:
    from edgekit.model.keras_io import static_input_shape, static_output_shape
    from edgekit.model.metrics import check_labels

    dataset = load_dataset(data_path)
    shape = static_input_shape(model, where)
    out_shape = static_output_shape(model, where)
    xkey, x_test, y_test = dataset.evaluation()
    x_test = fit_to_input(x_test, shape, what=f"{data_path}:{xkey}")
    task = check_labels(x_test, y_test, out_shape, task, where=dataset.labels_where(xkey))
    if task is None or y_test is None:
        raise DataError(f"compress scores candidates on labelled test data; {dataset.labels_where(xkey)} is missing",
                        hint="save test labels as y_test beside x_test")
    if not (dataset.has("x_train") and dataset.has("y_train")):
        raise DataError(f"{data_path} has no x_train/y_train to fine-tune compressed models with",
                        hint="save training inputs and labels as x_train and y_train")
    x_train = fit_to_input(dataset.arrays["x_train"], shape, what=f"{data_path}:x_train")
    y_train = dataset.arrays["y_train"]
    check_labels(x_train, y_train, out_shape, task, where=f"{data_path}:y_train")
    _, x_calib = dataset.calibration()
    x_calib = fit_to_input(x_calib, shape, what=f"{data_path}:calibration inputs")
    return Data(x_train, np.asarray(y_train), x_test, np.asarray(y_test), x_calib, task)


def compress_model(model_path: Path, data_path: Path, board: Board, *, runtime: str = AUTO,
                   max_flash: int | None = None, max_ram: int | None = None, max_latency_ms: float | None = None,
                   max_drop: float = 2.0, methods: tuple[str, ...] = METHODS, out_dir: Path | None = None,
                   seed: int = 0, task: str | None = None, tune: FineTune | None = None,
                   on_progress: Callable[[int, int], None] | None = None, importance: str = "l1") -> CompressionResult:
    """Make the Keras model at `model_path` fit `board` (or the --max-* budget): search the
    methods' settings, keep the most accurate int8 model that fits, and write it (.keras and
    .tflite) and the report to `out_dir`. Raises DoesNotFit (exit 1) after writing the report
    when nothing fits or the best loses more than `max_drop` points."""
    from edgekit.model.keras_io import load_keras_model

    started = time.perf_counter()
    budget = board_budget(board, runtime, max_flash=max_flash, max_ram=max_ram, max_latency_ms=max_latency_ms)
    if max_drop < 0:
        raise UsageError(f"--max-drop must not be negative, got {max_drop}")
    if importance not in IMPORTANCES:
        raise UsageError(f"unknown channel importance '{importance}'", hint=f"use one of: {', '.join(IMPORTANCES)}")
    model = load_keras_model(model_path)
    data = _load_data(Path(data_path), model, task, str(model_path))
    out_dir = out_dir or default_out_dir(Path(model_path))
    outcome = search(model, data, board, budget, methods=methods, max_drop=max_drop, seed=seed, tune=tune,
                     on_progress=on_progress, importance=importance)
    report = CompressionReport(
        model=str(model_path), data=str(data_path), task=data.task, metric=outcome.metric, budget=budget,
        baseline_float=outcome.baseline_float, candidates=outcome.candidates,
        chosen=outcome.chosen.id if outcome.chosen else None, reason=outcome.reason,
        pareto_flash=pareto_front(outcome.candidates, "flash", outcome.metric),
        pareto_latency=pareto_front(outcome.candidates, "latency_ms", outcome.metric),
        pareto_ram=pareto_front(outcome.candidates, "ram", outcome.metric),
        seconds=round(time.perf_counter() - started, 1), seed=seed, methods=list(methods), importance=importance)
    keras_path = tflite_path = None
    with output_dir(out_dir, (KERAS_FILE, TFLITE_FILE, JSON_FILE, MARKDOWN_FILE, PNG_FILE)):
        if outcome.chosen is not None and outcome.tflite is not None:
            keras_path, tflite_path = out_dir / KERAS_FILE, out_dir / TFLITE_FILE
            with atomic_path(keras_path, suffix=".keras") as tmp:   # Keras wants the suffix
                outcome.model.save(tmp)
            atomic_write_bytes(tflite_path, outcome.tflite)
            if max_latency_ms is not None and outcome.chosen.runtime:
                from edgekit.compress.latency import check_latency

                report.latency_check = check_latency(tflite_path, Path(data_path), board, outcome.chosen.runtime)
        files = write_report(report, out_dir)
    result = CompressionResult(report, keras_path, tflite_path, files)
    _check_outcome(result, max_drop)
    return result


def _check_outcome(result: CompressionResult, max_drop: float) -> None:
    r = result.report
    chosen = r.chosen_candidate()
    if chosen is None:
        sized = [c for c in r.candidates if c.overflow]
        closest = min(sized, key=lambda c: sum(v / (r.budget.ram if k == "ram" else r.budget.flash if k == "flash"
                                                     else (r.budget.latency_ms or 1.0))
                                               for k, v in c.overflow.items()))
        raise DoesNotFit(f"no candidate fits {r.budget.board}: the closest, {closest.id} (flash "
                         f"{closest.flash:,} B, RAM {closest.ram:,} B), is {describe_overflow(closest.overflow)}",
                         hint=f"report in {result.report_files[1]}; try a bigger board, more methods or a "
                              "smaller architecture")
    check = r.latency_check
    if check is not None and check.ms_on_board is not None and r.budget.latency_ms is not None \
            and check.ms_on_board > r.budget.latency_ms:
        raise DoesNotFit(f"{chosen.id} fits by prediction ({chosen.latency_ms:.3f} ms) but the virtual board "
                         f"times it at {check.ms_on_board:.3f} ms, over --max-latency-ms {r.budget.latency_ms:g}",
                         hint=f"report in {result.report_files[1]}")
    drop = drop_points(r.metric, r.baseline_float, chosen.int8_metric or 0.0)
    if not within_drop(drop, max_drop):
        unit = f"points of {r.metric}" if HIGHER_IS_BETTER[r.metric] else f"% more {r.metric}"
        raise DoesNotFit(f"the best model that fits, {chosen.id}, loses {drop:.2f} {unit} in int8 "
                         f"against the original float model (--max-drop {max_drop:g}); it was written to "
                         f"{result.tflite_model}", hint=f"report in {result.report_files[1]}")


__all__ = ["CompressionResult", "DoesNotFit", "compress_model", "parse_methods", "default_out_dir",
           "KERAS_FILE", "TFLITE_FILE"]
