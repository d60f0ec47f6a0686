"""`edgekit compare`: one model, several runtimes, the same board, side by side.

    comparison = compare_runtimes(Path("model.tflite"), board, Path("out/compare"),
                                  tflm_dirs=[Path("tflm/ref"), Path("tflm/cmsis_nn")])
    comparison.results      # one VariantResult per runtime variant, in order
    comparison.ratio(r, "latency")   # r's p50 latency over the baseline's (edgekit-rt)

Each variant (each runtime's :meth:`~edgekit.runtimes.base.Runtime.variants`: edgekit-rt;
tflm once per TFLM tree, labelled by the tree's kernel set) is
generated into its own project under the output directory, built from an empty build
directory (timed), built again with nothing changed (timed: the no-op rebuild), flashed on a
physical board, and validated with the harness (:func:`edgekit.hil.harness.run_hil`) on the
same inputs: agreement with the host TFLM reference, latency p50 (cycles; instructions on the
virtual board), arena, flash and RAM (:mod:`edgekit.project.size`), and the per-op profile
of one invoke (:mod:`edgekit.hil.profile`). A variant that fails (compiler error, board lost) becomes a row with its
error and the others still run. What is wrong before anything runs (model, board, runtime
name, TFLM tree path, a missing tool) raises as usual. The table, JSON, Markdown and PNG are
rendered by :mod:`edgekit.compare.report`, which writes them into the output directory.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from edgekit.boards import Board
from edgekit.compare.report import write_outputs
from edgekit.compare.result import BuildTimes, Comparison, VariantResult
from edgekit.data import load_dataset, save_dataset
from edgekit.errors import EdgekitError, MissingToolError, UsageError
from edgekit.hil.cycles import estimate_invoke, random_input, require_estimable
from edgekit.hil.harness import HilOptions, run_hil
from edgekit.model.quantize import verify_int8
from edgekit.model.tensor_data import random_inputs
from edgekit.model.tflite_graph import load_graph
from edgekit.project.build import build_project
from edgekit.project.families import family_of
from edgekit.project.generate import generate_project, origin_of_model
from edgekit.runners import Executor, FlashImage, make_runner
from edgekit.runtimes import EDGEKIT_RT, TFLM
from edgekit.runtimes.base import RuntimeOptions, Variant
from edgekit.runtimes.registry import get_runtime
from edgekit.sim.cycles import Timing
from edgekit.sim.qemu import require_virtual_board
from edgekit.tools import require

RANDOM_INPUTS = "inputs.npz"   # written when the model has no test data
StepFn = Callable[[str], AbstractContextManager[object]]


def _no_step(message: str) -> AbstractContextManager[object]:
    return nullcontext()


def plan_variants(board: Board, runtimes: Sequence[str] = (EDGEKIT_RT, TFLM),
                  tflm_dirs: Sequence[Path] = (), optimize: str | None = None) -> tuple[list[Variant], list[str]]:
    """The variants to run, in order (each runtime's own), and notes on what was left out.

    tflm runs once per tree in `tflm_dirs` (else $TFLM_DIR); with no tree it is left out with
    a note. UsageError for an unknown runtime, MissingToolError (exit 4) for a path that is not
    a TFLM tree or when nothing is left to run.
    """
    options = RuntimeOptions(tuple(Path(d) for d in tflm_dirs), optimize)
    variants: list[Variant] = []
    notes: list[str] = []
    for name in dict.fromkeys(runtimes):
        found, left_out = get_runtime(name).variants(board, options)   # "auto" and typos: UsageError
        variants += found
        notes += left_out
    if tflm_dirs and TFLM not in runtimes:
        raise UsageError("--tflm-dir was given but tflm is not among --runtimes", hint="add tflm to --runtimes")
    if not variants:
        raise MissingToolError("nothing to compare: " + "; ".join(notes),
                               hint="compare a runtime that can build for this board")
    return variants, notes


def _inputs(model: Path, data: Path | None, out_dir: Path, samples: int) -> tuple[Path, str]:
    """The test data every variant runs on: `data`, else the data beside the model
    (edgekit train/quantize), else `samples` random inputs over the whole int8 input range,
    saved under `out_dir` (seed 0: the same inputs on every run)."""
    test_data = origin_of_model(model, data_path=data).test_data
    if test_data:
        load_dataset(test_data)   # a missing or broken file: one error before anything runs
        return Path(test_data), test_data
    arrays, what = random_inputs(load_graph(model), samples)
    path = out_dir / RANDOM_INPUTS
    save_dataset(path, arrays)
    return path, f"{what} ({path})"


def _require_tools(board: Board) -> None:
    """The build tools of the board's family and, for a virtual board, its emulator: exit 4 up front."""
    family = family_of(board)
    require(*family.tools, needed_for=f"build {family.title} firmware")
    if board.virtual:
        require_virtual_board(board)


def _timed(fn: Callable[[], object]) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def _run_variant(v: Variant, result: VariantResult, model: Path, board: Board, out_dir: Path,
                 opts: HilOptions, *, runner: str | None, jobs: int, step: StepFn, cycles: Timing | None) -> None:
    """Generate, build twice, flash and validate one variant, filling `result` as it goes."""
    with step(f"generating the {v.label} project"):
        gen = generate_project(model, board, out_dir / v.slug, runtime=v.runtime,
                               origin=origin_of_model(model, data_path=opts.data), options=v.options)
    project = gen.project
    result.project_dir, result.arena_bytes = project.root, gen.arena_bytes
    if project.build_dir.exists():   # the first build starts from nothing (the TFLM cache aside)
        shutil.rmtree(project.build_dir)
    with step(f"building {v.label} (first build)"):
        started = time.monotonic()
        built = build_project(project, jobs=jobs, options=v.options)
        first = time.monotonic() - started
    with step(f"rebuilding {v.label} (nothing changed)"):
        again = _timed(lambda: build_project(project, jobs=jobs, options=v.options))
    lib = built.library
    result.build = BuildTimes(first, again, None if lib is None else lib.compiled == 0,
                              None if lib is None else lib.compiled)
    result.size = built.size
    if not board.virtual:
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
    if cycles is not None:
        with step(f"estimating {v.label}'s cycles (one traced invoke)"):
            result.cycles = estimate_invoke(board, built.elf, project.graph, random_input(project.graph),
                                            timing=cycles)


def compare_runtimes(model: Path, board: Board, out_dir: Path, *, runtimes: Sequence[str] = (EDGEKIT_RT, TFLM),
                     tflm_dirs: Sequence[Path] = (), data: Path | None = None, samples: int = 20,
                     runs: int = 10, warmup: int = 2, profile: bool = True, port: str | None = None,
                     runner: str | None = None, jobs: int = 2, step: StepFn = _no_step,
                     cycles: Timing | None = None, optimize: str | None = None) -> Comparison:
    """Run `model` on `board` with each runtime variant and measure them side by side; see the
    module docstring. Writes every project, the inputs when they are random, and the
    comparison's JSON, Markdown and PNG under `out_dir` (`Comparison.files`).

    `samples` test inputs are sent to each variant (agreement), then `runs` timed runs after
    `warmup` give the latency; `profile` asks each for a per-op profile of one invoke
    (cheap: one more invoke; the profiler is in every firmware); `cycles` (a virtual board
    only) adds each one's estimated Cortex-M4 cycles (:mod:`edgekit.hil.cycles`); `optimize` is
    generate's --optimize (None: chosen against the board's flash). `step(message)`
    returns a context manager shown while a stage runs. Raises before anything runs for a bad
    model, data, runtime name or TFLM tree, or a missing build tool; a variant's own failure
    is recorded in its result.
    """
    if samples < 1:
        raise UsageError(f"--samples must be at least 1, not {samples}")
    if cycles is not None:
        require_estimable(board)
    graph = load_graph(model)
    verify_int8(graph, str(model))
    variants, notes = plan_variants(board, runtimes, tflm_dirs, optimize)
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
            _run_variant(v, result, Path(model), board, out_dir, opts, runner=runner, jobs=jobs, step=step,
                         cycles=cycles)
        except EdgekitError as exc:
            result.error = str(exc)
    comparison.files = write_outputs(comparison, out_dir)
    return comparison


__all__ = ["compare_runtimes", "plan_variants", "RANDOM_INPUTS"]
