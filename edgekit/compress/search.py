"""The search: the most accurate int8 model that fits the budget.

1. The original model is converted, sized and scored; if it fits and int8 loses no more than
   the allowed drop, it is the answer.
2. Each method family (pruning widths, low-rank energies, pruning then low-rank) is a list of
   settings from large to small. Size shrinks monotonically along a list, so the largest one
   that fits is found by bisection, converting and sizing untrained candidates (sizes depend
   on the weights' values by at most a byte per output channel: that margin is kept free).
   For the pruning families, the uniform width that fits is then refined into a width per
   channel group (widths.py): the groups whose pruning hurts most are widened first, each as
   far as the candidate still fits, so the budget goes to the layers that matter and the
   layers that dominate the overflowing resource stay narrow.
3. Each of those candidates of each family is fine-tuned (with distillation from the original), then
   converted and scored; the one with the best int8 metric wins. When its int8 metric loses
   more than the allowed drop against its own float metric, quantization-aware training is
   tried on it.
Same seed, same data, same candidates and weights: every fine-tune is seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from edgekit.boards import Board
from edgekit.compress.budget import Budget, footprint
from edgekit.compress.distill import FineTune, fine_tune
from edgekit.compress.widths import (
    DAMAGE_SAMPLES,
    LayerWidth,
    group_widths,
    pruning_damage,
    refine_widths,
    uniform_kept,
    width_fractions,
)
from edgekit.model import metrics
from edgekit.model.evaluate import run_keras, run_tflite
from edgekit.model.quantize import (
    DEFAULT_CALIBRATION_SAMPLES,
    calibration_subset,
    convert_int8,
    quantize_model,
    verify_int8,
)
from edgekit.model.tflite_graph import parse_graph
from edgekit.runtimes.registry import get_runtime

METHODS = ("prune", "lowrank", "distill", "qat")
PRUNE_WIDTHS = (0.9, 0.75, 0.5, 0.35, 0.25, 0.18, 0.12, 0.08, 0.05)
LOWRANK_ENERGIES = (0.99, 0.95, 0.9, 0.8, 0.7, 0.5)
COMBINED_ENERGY = 0.9


@dataclass
class Candidate:
    """One model the search looked at, with what it needs and how well it does (None: not measured)."""

    id: str
    method: str
    params: int
    flash: int | None = None
    ram: int | None = None
    macs: int | None = None
    latency_ms: float | None = None
    runtime: str | None = None
    float_metric: float | None = None
    int8_metric: float | None = None
    fits: bool | None = None
    overflow: dict[str, float] = field(default_factory=dict)
    fine_tuned: bool = False
    widths: list[LayerWidth] = field(default_factory=list)    # channels kept per pruned layer
    ranks: list[LayerWidth] = field(default_factory=list)     # rank per factorized layer
    note: str = ""

    def shaped_like(self, other: Candidate) -> Candidate:
        """This candidate with `other`'s widths and ranks (a fine-tuned copy keeps its shape)."""
        self.widths, self.ranks = list(other.widths), list(other.ranks)
        return self


@dataclass
class Data:
    """The arrays the search trains, calibrates and scores with, and the task."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_calib: np.ndarray
    task: str


@dataclass
class SearchOutcome:
    """Every candidate, the chosen one (None when nothing fits) with its model and .tflite, and why."""

    candidates: list[Candidate]
    chosen: Candidate | None
    model: Any
    tflite: bytes | None
    reason: str
    metric: str
    baseline_float: float


def drop_points(metric: str, reference: float, value: float) -> float:
    """How much worse `value` is than `reference` (positive = worse): percentage points for
    accuracy and ROC AUC; for an error such as MAE, percent of the reference's error (an
    absolute MAE difference means nothing without the data's scale)."""
    if metrics.HIGHER_IS_BETTER[metric]:
        return (reference - value) * 100.0
    return (value - reference) / max(abs(reference), 1e-12) * 100.0


def within_drop(drop: float, max_drop: float) -> bool:
    """Whether a drop is allowed (a float hair over the limit, e.g. 2.0000000001, is not over it)."""
    return drop <= max_drop + 1e-9


def preference(metric: str) -> Callable[[Candidate], tuple[float, int, int, int]]:
    """Sort key of candidates, preferred first: the best int8 metric; among equals the smallest
    flash, then RAM, then MACs, so that the first is never one another candidate dominates."""
    sign = 1.0 if metrics.HIGHER_IS_BETTER[metric] else -1.0
    return lambda c: (-sign * (c.int8_metric or 0.0), c.flash or 0, c.ram or 0, c.macs or 0)


def better(metric: str, a: float, b: float) -> bool:
    """Whether metric value `a` is better than `b`."""
    return a > b if metrics.HIGHER_IS_BETTER[metric] else a < b


Progress = Callable[[int, int], None]


# A setting of a family: a uniform width (float), channels per prunable group (list) or no
# pruning (None), then a low-rank energy or none.
Width = float | list[int] | None


@dataclass(frozen=True)
class _Family:
    name: str
    settings: tuple[tuple[str, float | None, float | None], ...]    # (id, width, energy), large to small


class _Search:
    def __init__(self, model: Any, data: Data, board: Board, budget: Budget, *, methods: tuple[str, ...],
                 max_drop: float, seed: int, tune: FineTune, on_progress: Progress | None, importance: str) -> None:
        self.model, self.data, self.board, self.budget = model, data, board, budget
        self.methods, self.max_drop, self.seed = methods, max_drop, seed
        self.tune = FineTune(tune.epochs, tune.learning_rate, tune.batch,
                             tune.alpha if "distill" in methods else 1.0, seed)
        self.metric = metrics.METRIC_OF_TASK[data.task]
        self.candidates: list[Candidate] = []
        self.on_progress = on_progress or (lambda i, n: None)
        self.done, self.total = 0, 1
        self.teacher_out = run_keras(model, data.x_train).values
        from edgekit.compress.prune import describe_groups

        self.groups = [g for g in describe_groups(model) if g.prunable] if "prune" in methods else []
        self.scores = None      # channel importance: L1 in prune.py, or gradient-based (taylor.py)
        if importance == "taylor" and self.groups:
            from edgekit.compress.taylor import taylor_scores

            self.scores = taylor_scores(model, data.x_train, data.y_train, data.task)
        self.damage: dict[float, list[float]] = {}
        self.per_layer_count = 0

    def tick(self, extra_total: int = 0) -> None:
        self.total += extra_total
        self.done += 1
        self.on_progress(min(self.done, self.total), self.total)

    def convert(self, model: Any, where: str) -> tuple[bytes, Any]:
        """The original converts in a child process (quantize_model: a converter crash is one
        clean error); candidates, made of the same layer types, convert in this process with
        the same settings and checks: 2 s instead of 18 s each on two loaded cores."""
        if model is self.model:
            return quantize_model(model, self.data.x_calib, where=where)
        tflite = convert_int8(model, calibration_subset(self.data.x_calib, DEFAULT_CALIBRATION_SAMPLES), where=where)
        graph = parse_graph(tflite)
        verify_int8(graph, where)
        return tflite, graph

    def size(self, cand: Candidate, model: Any, *, before_fine_tuning: bool = False) -> tuple[bytes, Any]:
        """Convert and size `cand`; one sized before fine-tuning must leave the flash that
        fine-tuning may add (the runtime's fine_tune_flash_margin) free, so that its tuned copy still fits."""
        tflite, graph = self.convert(model, f"candidate {cand.id}")
        fp = footprint(tflite, graph, self.board, self.budget)
        cand.flash, cand.ram, cand.macs, cand.latency_ms, cand.runtime = (fp.flash, fp.ram, fp.macs,
                                                                            round(fp.latency_ms, 3), fp.runtime)
        margin = get_runtime(fp.runtime).fine_tune_flash_margin(graph) if before_fine_tuning else 0
        cand.overflow = fp.overflow(replace(self.budget, flash=self.budget.flash - margin))
        cand.fits = not cand.overflow
        if margin and fp.flash <= self.budget.flash and not cand.fits:
            cand.note += f"; within the budget but not the {margin:,} B fine-tuning may add"
        return tflite, graph

    def score(self, cand: Candidate, model: Any, tflite: bytes, graph: Any) -> None:
        d = self.data
        cand.float_metric = metrics.task_metric(d.task, d.x_test, d.y_test, run_keras(model, d.x_test).values)
        cand.int8_metric = metrics.task_metric(d.task, d.x_test, d.y_test, run_tflite(tflite, graph, d.x_test).values)

    def build(self, cid: str, family: str, width: Width, energy: float | None, note: str) -> tuple[Candidate, Any]:
        """The original pruned to `width`, then factorized at `energy`, as an unsized candidate."""
        from edgekit.compress.lowrank import factorize_model
        from edgekit.compress.prune import prune_model

        model, widths, ranks = self.model, [], []
        if width is not None:
            kept = uniform_kept(self.groups, width) if isinstance(width, float) else width
            model = prune_model(model, width if isinstance(width, float) else width_fractions(self.groups, kept),
                                scores=self.scores)
            widths = group_widths(self.groups, kept)
        if energy is not None:
            model, plans = factorize_model(model, energy)
            ranks = [LayerWidth(f.layer, f.rank, min(f.inputs, f.outputs)) for f in plans]
        return Candidate(cid, family, int(model.count_params()), widths=widths, ranks=ranks, note=note), model

    def sized(self, cid: str, family: str, width: Width, energy: float | None, note: str) -> tuple[Candidate, Any]:
        """A candidate built, sized (before fine-tuning) and recorded."""
        cand, model = self.build(cid, family, width, energy, note)
        self.candidates.append(cand)
        self.size(cand, model, before_fine_tuning=True)
        return cand, model

    def bisect(self, family: _Family) -> tuple[Candidate, Any, float | None, float | None] | None:
        """The largest setting of a family that fits (settings go from large to small)."""
        settings = family.settings
        lo, hi, best = 0, len(settings) - 1, None
        self.total += max(1, int(np.ceil(np.log2(len(settings) + 1))))
        while lo <= hi:
            mid = (lo + hi) // 2
            cid, width, energy = settings[mid]
            cand, model = self.sized(cid, family.name, width, energy, "sized before fine-tuning")
            self.tick()
            if cand.fits:
                best, hi = (cand, model, width, energy), mid - 1
            else:
                lo = mid + 1
        return best

    def per_layer(self, family: str, width: float, energy: float | None) -> tuple[Candidate, Any] | None:
        """The uniform `width` that fits refined into a width per channel group (widths.py);
        None when no group could be widened."""
        start = uniform_kept(self.groups, width)
        if width not in self.damage:
            n = DAMAGE_SAMPLES
            self.damage[width] = pruning_damage(self.model, self.groups, start, self.data.x_train[:n],
                                                self.teacher_out[:n], self.scores)
        best: list[tuple[Candidate, Any]] = []

        def fits(kept: list[int]) -> bool:
            if energy is None and kept == [g.width for g in self.groups]:
                return bool(self.candidates[0].fits)     # nothing pruned: the original, sized already
            self.per_layer_count += 1
            lowrank = f"+lowrank-e{energy:.2f}" if energy is not None else ""
            cand, model = self.sized(f"prune-layers{self.per_layer_count}{lowrank}", family, kept, energy,
                                     "width per layer, sized before fine-tuning")
            self.tick(extra_total=1)
            if cand.fits:
                best[:] = [(cand, model)]
            return bool(cand.fits)

        final = refine_widths(self.groups, start, self.damage[width], fits)
        return best[0] if final != start else None

    def families(self) -> list[_Family]:
        out = []
        if "prune" in self.methods:
            out.append(_Family("prune", tuple((f"prune-w{w:.2f}", w, None) for w in PRUNE_WIDTHS)))
        if "lowrank" in self.methods:
            out.append(_Family("lowrank", tuple((f"lowrank-e{e:.2f}", None, e) for e in LOWRANK_ENERGIES)))
        if "prune" in self.methods and "lowrank" in self.methods:
            e = COMBINED_ENERGY
            out.append(_Family("prune+lowrank", tuple((f"prune-w{w:.2f}+lowrank-e{e:.2f}", w, e)
                                                      for w in PRUNE_WIDTHS)))
        return out

    def finish(self, cand: Candidate, model: Any) -> tuple[Candidate, Any, bytes, Any]:
        """Fine-tune a fitting candidate (a new entry in the report), convert and score it."""
        d = self.data
        tuned = Candidate(f"{cand.id}+ft", cand.method, cand.params, fine_tuned=True,
                          note="distilled from the original" if self.tune.alpha < 1 else "fine-tuned on labels"
                          ).shaped_like(cand)
        fine_tune(model, self.teacher_out, d.x_train, d.y_train, d.task, self.tune)
        tflite, graph = self.size(tuned, model)
        self.score(tuned, model, tflite, graph)
        self.candidates.append(tuned)
        self.tick()
        return tuned, model, tflite, graph

    def run(self) -> SearchOutcome:
        original = Candidate("original", "none", int(self.model.count_params()))
        self.candidates.append(original)
        tflite, graph = self.size(original, self.model)
        self.score(original, self.model, tflite, graph)
        self.tick()
        base = original.float_metric if original.float_metric is not None else 0.0
        if original.fits and within_drop(drop_points(self.metric, base, original.int8_metric or 0.0), self.max_drop):
            return SearchOutcome(self.candidates, original, self.model, tflite, "the original model fits the "
                                 "budget and its int8 metric is within the allowed drop", self.metric, base)
        finished: list[tuple[Candidate, Any, bytes, Any]] = []
        if original.fits:   # fits, but int8 loses too much: QAT on the original
            finished.append((original, self.model, tflite, graph))
        for family in self.families():
            found = self.bisect(family)
            if found is None:
                continue
            cand, model, width, energy = found
            self.total += 1
            finished.append(self.finish(cand, model))
            refined = self.per_layer(family.name, width, energy) if isinstance(width, float) and self.groups else None
            if refined is not None:
                self.total += 1
                finished.append(self.finish(*refined))
        if not finished:
            return SearchOutcome(self.candidates, None, None, None, "no candidate fits the budget", self.metric, base)
        key = preference(self.metric)
        finished.sort(key=lambda f: key(f[0]))
        best = finished[0]
        reason = (f"the most accurate int8 model that fits ({self.metric} {best[0].int8_metric:.4f} vs "
                  f"{base:.4f} float original)")
        drop = drop_points(self.metric, base, best[0].int8_metric or 0.0)
        if not within_drop(drop, self.max_drop) and "qat" in self.methods:
            qat = self.quantization_aware(best[0], best[1])
            if qat is not None and better(self.metric, qat[0].int8_metric or 0.0, best[0].int8_metric or 0.0):
                best = qat
                reason += "; quantization-aware training recovered int8 accuracy"
        self.on_progress(self.total, self.total)
        return SearchOutcome(self.candidates, best[0], best[1], best[2], reason, self.metric, base)

    def quantization_aware(self, cand: Candidate, model: Any) -> tuple[Candidate, Any, bytes, Any] | None:
        from edgekit.compress.qat import qat_fine_tune

        self.total += 1
        d = self.data
        qcand = Candidate(f"{cand.id}+qat", cand.method, cand.params, fine_tuned=True,
                          note="quantization-aware training with learned ranges").shaped_like(cand)
        result = qat_fine_tune(model, self.teacher_out, d, self.tune)
        if result is None:
            return None
        qmodel, tflite, graph = result
        fp = footprint(tflite, graph, self.board, self.budget)
        qcand.flash, qcand.ram, qcand.macs, qcand.latency_ms, qcand.runtime = (
            fp.flash, fp.ram, fp.macs, round(fp.latency_ms, 3), fp.runtime)
        qcand.overflow = fp.overflow(self.budget)
        qcand.fits = not qcand.overflow
        self.score(qcand, qmodel, tflite, graph)
        self.candidates.append(qcand)
        self.tick()
        return (qcand, qmodel, tflite, graph) if qcand.fits else None


def search(model: Any, data: Data, board: Board, budget: Budget, *, methods: tuple[str, ...] = METHODS,
           max_drop: float = 2.0, seed: int = 0, tune: FineTune | None = None,
           on_progress: Progress | None = None, importance: str = "l1") -> SearchOutcome:
    """Search the methods' settings for the most accurate int8 model within `budget` (see the
    module docstring); `on_progress(done, total)` after each candidate; `importance` ranks the
    channels pruning keeps: "l1" (weights) or "taylor" (gradients, taylor.py)."""
    from edgekit.model.keras_io import import_tensorflow

    tf = import_tensorflow()
    tf.config.experimental.enable_op_determinism()
    return _Search(model, data, board, budget, methods=methods, max_drop=max_drop, seed=seed,
                   tune=tune or FineTune(), on_progress=on_progress, importance=importance).run()


__all__ = ["Candidate", "Data", "SearchOutcome", "METHODS", "search", "drop_points", "within_drop", "better"]
