"""`edgekit compare`: one model, several runtimes, the same board, side by side.

    comparison = compare_runtimes(Path("model.tflite"), board, Path("out/compare"),
                                  tflm_dirs=[Path("tflm/ref"), Path("tflm/cmsis_nn")])
    comparison.results      # one VariantResult per runtime variant, in order
    comparison.ratio(r, "latency")   # r's p50 latency over the baseline's (edgekit-rt)

Each variant (edgekit-rt; tflm once per TFLM tree, labelled by the tree's kernel set) is
generated into its own project under the output directory, built from an empty build
directory (timed), built again with nothing changed (timed: the no-op rebuild), flashed on a
physical board, and validated with the harness (:func:`edgekit.hil.harness.run_hil`) on the
same inputs: agreement with the host TFLM reference, latency p50 (cycles; instructions on the
virtual board), arena, flash and RAM (:mod:`edgekit.project.size`), and the per-op profile
of one invoke (:mod:`edgekit.hil.profile`). A variant that fails (compiler error, board lost) becomes a row with its
error and the others still run. What is wrong before anything runs (model, board, runtime
name, TFLM tree path, a missing tool) raises as usual. The table, JSON, Markdown and PNG are
rendered by :mod:`edgekit.compare_report`, which writes them into the output directory.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from edgekit.boards import Board
from edgekit.data import load_dataset, save_dataset
from edgekit.errors import EdgekitError, MissingToolError, UsageError
from edgekit.hil.evaluate import Agreement, Latency
from edgekit.hil.harness import HilOptions, run_hil
from edgekit.hil.profile import LayerProfile
from edgekit.project.size import SizeReport
from edgekit.runtimes import EDGEKIT_RT, TFLM, TFLM_TREE_HOWTO, get_runtime

Metric = Literal["latency", "arena", "flash", "ram"]
METRICS: tuple[Metric, ...] = ("latency", "arena", "flash", "ram")
RATIO_METRICS: tuple[Metric, ...] = ("latency", "flash", "ram")   # the table's "x edgekit-rt" columns
KERNEL_SETS = {"ref": "reference", "cmsis_nn": "CMSIS-NN"}        # TflmTree.kind -> label
RANDOM_INPUTS = "inputs.npz"   # written when the model has no test data
StepFn = Callable[[str], AbstractContextManager[object]]


def _no_step(message: str) -> AbstractContextManager[object]:
    return nullcontext()


@dataclass(frozen=True)
class CompareVariant:
    """One runtime configuration: its runtime, the row label, its project's directory name,
    and for tflm on STM32 the TFLM tree and its kernel set ("ref" or "cmsis_nn")."""

    runtime: str
    label: str
    slug: str
    tflm_dir: Path | None = None
    kernels: str | None = None


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

    variant: CompareVariant
    project_dir: Path | None = None
    error: str | None = None
    build: BuildTimes | None = None
    size: SizeReport | None = None
    arena_bytes: int | None = None
    agreement: Agreement | None = None
    latency: Latency | None = None
    profile: LayerProfile | None = None
    report_dir: Path | None = None

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
    files: list[Path] = field(default_factory=list)   # what compare_report wrote

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


def _tflm_variants(board: Board, tflm_dirs: Sequence[Path], notes: list[str]) -> list[CompareVariant]:
    """tflm once per tree (STM32); the esp-tflite-micro component on ESP32 (no tree)."""
    from edgekit.project.families import family_of
    from edgekit.project.families.stm32 import Stm32Family
    from edgekit.project.tflm_lib import TFLM_DIR_ENV, find_tree

    if not isinstance(family_of(board), Stm32Family):
        return [CompareVariant(TFLM, f"{TFLM} (esp-tflite-micro)", TFLM)]
    dirs = list(tflm_dirs) or ([Path(os.environ[TFLM_DIR_ENV])] if os.environ.get(TFLM_DIR_ENV) else [])
    if not dirs:
        notes.append(f"{TFLM} left out: no TFLM tree (pass --tflm-dir DIR, repeatable, or set TFLM_DIR)")
        return []
    # A missing or broken tree: MissingToolError before anything runs; a tree given twice runs once.
    trees = list({t.root: t for t in (find_tree(d) for d in dirs)}.values())
    variants: list[CompareVariant] = []
    for tree in trees:
        kernels = KERNEL_SETS[tree.kind]
        same_kind = [t for t in trees if t.kind == tree.kind]
        label, slug = f"{TFLM} ({kernels})", f"{TFLM}-{tree.kind}"
        if len(same_kind) > 1:   # two trees with the same kernels: told apart by directory name
            label = f"{TFLM} ({kernels}, {tree.root.name})"
            slug += f"-{same_kind.index(tree) + 1}"
        variants.append(CompareVariant(TFLM, label, slug, tree.root, tree.kind))
    return variants


def plan_variants(board: Board, runtimes: Sequence[str] = (EDGEKIT_RT, TFLM),
                  tflm_dirs: Sequence[Path] = ()) -> tuple[list[CompareVariant], list[str]]:
    """The variants to run, in order, and notes on what was left out.

    tflm runs once per tree in `tflm_dirs` (else $TFLM_DIR); with no tree it is left out with
    a note. UsageError for an unknown runtime, MissingToolError (exit 4) for a path that is not
    a TFLM tree or when nothing is left to run.
    """
    variants: list[CompareVariant] = []
    notes: list[str] = []
    for name in dict.fromkeys(runtimes):
        runtime = get_runtime(name).name   # "auto" and typos: UsageError naming the runtimes
        if runtime == TFLM:
            variants += _tflm_variants(board, tflm_dirs, notes)
        else:
            variants.append(CompareVariant(runtime, runtime, runtime))
    if tflm_dirs and TFLM not in runtimes:
        raise UsageError("--tflm-dir was given but tflm is not among --runtimes", hint="add tflm to --runtimes")
    if not variants:
        raise MissingToolError("nothing to compare: runtime tflm needs a TFLM source tree", hint=TFLM_TREE_HOWTO)
    return variants, notes


def _inputs(model: Path, data: Path | None, out_dir: Path, samples: int) -> tuple[Path, str]:
    """The test data every variant runs on: `data`, else the data beside the model
    (edgekit train/quantize), else `samples` random inputs over the whole int8 input range,
    saved under `out_dir` (seed 0: the same inputs on every run)."""
    from edgekit.model.tflite_graph import load_graph
    from edgekit.project.generate import origin_of_model

    test_data = origin_of_model(model, data_path=data).test_data
    if test_data:
        load_dataset(test_data)   # a missing or broken file: one error before anything runs
        return Path(test_data), test_data
    tin = load_graph(model).input_tensors[0]
    q = np.random.default_rng(0).integers(-128, 128, size=(samples, *tin.shape[1:]))
    path = out_dir / RANDOM_INPUTS
    save_dataset(path, {"x": ((q - tin.zero_point) * tin.scale).astype(np.float32)})
    return path, f"{samples} random inputs over the int8 input range ({path})"


def _require_tools(board: Board) -> None:
    """The build tools of the board's family and, for the virtual board, QEMU: exit 4 up front."""
    from edgekit.project.families import family_of
    from edgekit.tools import require

    family = family_of(board)
    require(*family.tools, needed_for=f"build {family.title} firmware")
    if board.virtual:
        from edgekit.sim.qemu import require_qemu

        require_qemu()


def _timed(fn: Callable[[], object]) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def _run_variant(v: CompareVariant, result: VariantResult, model: Path, board: Board, out_dir: Path,
                 opts: HilOptions, *, runner: str | None, jobs: int, step: StepFn) -> None:
    """Generate, build twice, flash and validate one variant, filling `result` as it goes."""
    from edgekit.project.build import build_project
    from edgekit.project.generate import generate_project, origin_of_model

    with step(f"generating the {v.label} project"):
        gen = generate_project(model, board, out_dir / v.slug, runtime=v.runtime,
                               origin=origin_of_model(model, data_path=opts.data), tflm_dir=v.tflm_dir)
    project = gen.project
    result.project_dir, result.arena_bytes = project.root, gen.arena_bytes
    if project.build_dir.exists():   # the first build starts from nothing (the TFLM cache aside)
        shutil.rmtree(project.build_dir)
    with step(f"building {v.label} (first build)"):
        started = time.monotonic()
        built = build_project(project, jobs=jobs, tflm_dir=v.tflm_dir)
        first = time.monotonic() - started
    with step(f"rebuilding {v.label} (nothing changed)"):
        again = _timed(lambda: build_project(project, jobs=jobs, tflm_dir=v.tflm_dir))
    lib = built.tflm
    result.build = BuildTimes(first, again, None if lib is None else lib.compiled == 0,
                              None if lib is None else lib.compiled)
    result.size = built.size
    if not board.virtual:
        from edgekit.runners import Executor, FlashImage, make_runner

        with step(f"flashing {v.label} onto {board.id}"):
            flasher = make_runner(board, runner, Executor(echo=lambda s: None), opts.port)
            flasher.flash(FlashImage(built.elf, built.build_dir))
    with step(f"running {v.label} on {board.id}"):
        hil = run_hil(project, options=opts)
    report = hil.report
    result.report_dir = hil.paths[0].parent
    result.agreement, result.latency, result.profile = report.agreement, report.latency, report.profile
    if report.device is not None:
        result.arena_bytes = report.device.arena_bytes   # what the firmware reserves


def compare_runtimes(model: Path, board: Board, out_dir: Path, *, runtimes: Sequence[str] = (EDGEKIT_RT, TFLM),
                     tflm_dirs: Sequence[Path] = (), data: Path | None = None, samples: int = 20,
                     runs: int = 10, warmup: int = 2, profile: bool = True, port: str | None = None,
                     runner: str | None = None, jobs: int = 2, step: StepFn = _no_step) -> Comparison:
    """Run `model` on `board` with each runtime variant and measure them side by side; see the
    module docstring. Writes every project, the inputs when they are random, and the
    comparison's JSON, Markdown and PNG under `out_dir` (`Comparison.files`).

    `samples` test inputs are sent to each variant (agreement), then `runs` timed runs after
    `warmup` give the latency; `profile` asks each for a per-op profile of one invoke
    (cheap: one more invoke; the profiler is in every firmware). `step(message)`
    returns a context manager shown while a stage runs. Raises before anything runs for a bad
    model, data, runtime name or TFLM tree, or a missing build tool; a variant's own failure
    is recorded in its result.
    """
    from edgekit.compare_report import write_outputs
    from edgekit.model.quantize import verify_int8
    from edgekit.model.tflite_graph import load_graph

    if samples < 1:
        raise UsageError(f"--samples must be at least 1, not {samples}")
    graph = load_graph(model)
    verify_int8(graph, str(model))
    variants, notes = plan_variants(board, runtimes, tflm_dirs)
    _require_tools(board)
    out_dir = Path(out_dir)
    data_path, data_text = _inputs(model, data, out_dir, samples)
    opts = HilOptions(port=port, data=data_path, max_samples=samples, bench_runs=runs, warmup=warmup,
                      float_reference=False, profile=profile)
    comparison = Comparison(Path(model), graph.sha256, board.id, board.virtual, data_text, samples, [], notes,
                            out_dir)
    for v in variants:
        result = VariantResult(v)
        comparison.results.append(result)
        try:
            _run_variant(v, result, Path(model), board, out_dir, opts, runner=runner, jobs=jobs, step=step)
        except EdgekitError as exc:
            result.error = str(exc)
    comparison.files = write_outputs(comparison, out_dir)
    return comparison


__all__ = ["BuildTimes", "CompareVariant", "Comparison", "KERNEL_SETS", "METRICS", "Metric", "RATIO_METRICS",
           "VariantResult", "compare_runtimes", "plan_variants"]
