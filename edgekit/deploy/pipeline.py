"""`edgekit deploy`: the whole pipeline in one command.

    train (for an example) -> quantize (for a Keras model) -> generate -> build -> flash -> hil

With the virtual board, "flash" is QEMU loading the ELF when hil starts it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.boards import Board
from edgekit.errors import UsageError
from edgekit.examples import EXAMPLES
from edgekit.hil.harness import HilOptions, HilResult, run_hil
from edgekit.runtimes.base import RuntimeOptions
from edgekit.runtimes.registry import DEFAULT_CHOICE


@dataclass
class DeployResult:
    """What each stage produced, and the validation on the board."""

    steps: list[tuple[str, str]]  # (stage, what it produced)
    hil: HilResult


def deploy(target: str, board: Board, out_dir: Path, *, runtime: str = DEFAULT_CHOICE,
           options: RuntimeOptions = RuntimeOptions(),
           data: Path | None = None, runner: str | None = None, hil_options: HilOptions | None = None,
           step: Callable[[str], Any], on_progress: Callable[[int, int], None] | None = None,
           epochs: int | None = None, compress: bool = False,
           compress_methods: tuple[str, ...] | None = None, activations: str = "int8",
           decode: bool = False) -> DeployResult:
    """Run every stage for `target`: an example name, a .keras model (with `data`), or an int8 .tflite.

    `step(message)` returns a context manager that shows progress for one stage (it yields
    `note(text)` for how far the stage got, edgekit.console.step);
    `on_progress(done, total)` is called only while the board infers on the test inputs;
    `options` carry what runtimes need (the TFLM tree); `epochs` overrides the example's training
    epochs (UsageError when `target` is no example);
    `compress` inserts `edgekit compress` after quantizing a Keras model whose int8 model does not
    fit `board` (with `compress_methods`, default all of them); `activations` "int16" quantizes a
    Keras model to 16x8; `decode` quantizes a causal LM's decode step (one token per invoke, its
    attention caches kept on the board), as an example whose Example.decode is set always is.
    """
    from edgekit.model.evaluate import check_data_labels
    from edgekit.model.quant_report import quantize_file
    from edgekit.model.train import DATA_FILE, train_example
    from edgekit.project.build import build_project
    from edgekit.project.generate import generate_project, origin_of_model

    if epochs is not None and target not in EXAMPLES:
        raise UsageError(f"--epochs applies to training an example ({', '.join(EXAMPLES)}); "
                         f"'{target}' is a model file", hint="leave out --epochs")
    steps: list[tuple[str, str]] = []
    path = Path(target)   # out_dir is made by the first stage that writes into it
    example: str | None = None
    float_model: Path | None = None
    task: str | None = None
    if target in EXAMPLES:
        example = target
        decode = decode or EXAMPLES[target].decode
        with step(f"training example '{target}'"):
            trained = train_example(target, out_dir, epochs=epochs)
        steps.append(("train", f"{trained.metric} {trained.float_test:.4f} (float) -> {trained.model}"))
        path, data = Path(trained.model), out_dir / DATA_FILE
    elif not path.exists():
        raise UsageError(f"'{target}' is neither an example ({', '.join(EXAMPLES)}) nor an existing model file")
    if decode and compress:
        raise UsageError("--compress does not take a decode step yet", hint="leave out --compress")
    if path.suffix in (".keras", ".h5"):
        if data is None:
            raise UsageError(f"deploying {path} needs data for calibration and testing", hint="pass --data DATA.npz")
        what = "16x8 (int16 activations)" if activations == "int16" else "int8"
        with step(f"quantizing to {what}" + (" (decode step)" if decode else "")):
            q = quantize_file(path, data, out_dir / "model.tflite",
                              task=EXAMPLES[example].task if example else None,
                              activations=activations, decode=decode)
        summary = f"{q.metric} {q.int8_value:.4f} (int8, {q.int8_backend})" if q.metric else "verified int8"
        steps.append(("quantize", f"{summary} -> {q.tflite_model}"))
        path, float_model, task = Path(q.tflite_model), path, q.task
        compressed = (_compress_step(path, float_model, data, board, out_dir, runtime, compress_methods, step, steps)
                      if compress else None)
        if compressed is not None:   # int8 already, with the ranges compression chose
            path, float_model, task = compressed
    elif decode:
        raise UsageError(f"{path}: --decode converts a Keras causal LM; an int8 .tflite is deployed as it is",
                         hint="pass the .keras model, or leave out --decode")
    elif path.suffix != ".tflite":
        raise UsageError(f"{path}: expected an example name, a .keras model or an int8 .tflite")
    elif data is not None:  # the labels against the model before generate, build and flash
        check_data_labels(data, path, task)
    project_dir = out_dir / f"firmware-{board.id}"
    with step(f"generating the {board.family} project ({runtime})"):
        origin = origin_of_model(path, data_path=data, example=example, task=task, float_model=float_model)
        gen = generate_project(path, board, project_dir, runtime=runtime, origin=origin, options=options)
    steps.append(("generate", f"{gen.project_dir} (arena {gen.arena_bytes:,} B"
                  + (f"; optimized for {gen.optimize_reason})" if gen.optimize_reason else ")")))
    with step(f"building for {board.id}") as note:
        built = build_project(gen.project, options=options,
                              on_progress=lambda what, done, total: note(f"{what} {done}/{total}"))
    steps.append(("build", f"flash {built.size.flash_used:,} B, RAM {built.size.ram_used:,} B -> {built.elf}"))
    opts = hil_options or HilOptions()
    if board.virtual:
        steps.append(("flash", "virtual board: QEMU loads the ELF"))
    else:
        from edgekit.runners import Executor, FlashImage, make_runner

        with step(f"flashing {board.id}"):
            flasher = make_runner(board, runner, Executor(echo=lambda s: None), opts.port)
            flasher.flash(FlashImage(built.elf, built.build_dir))
        steps.append(("flash", f"with {flasher.name}"))
    hil = run_hil(gen.project, options=opts, on_progress=on_progress)
    rep = hil.report
    exact = rep.agreement.exact_share if rep.agreement else 0.0
    metric = f"{rep.task.metric} {rep.task.device:.4f} on device, " if rep.task and rep.task.metric else ""
    steps.append(("hil", f"{metric}{exact:.1%} exact with the host reference -> {hil.paths[0].parent}"))
    return DeployResult(steps, hil)


def _compress_step(tflite: Path, model: Path, data: Path, board: Board, out_dir: Path, runtime: str,
                   methods: tuple[str, ...] | None, step: Callable[[str], Any],
                   steps: list[tuple[str, str]]) -> tuple[Path, Path, str] | None:
    """When the int8 `tflite` of `model` does not fit `board` (the fit check generate makes),
    `edgekit compress` into out_dir/compress: (int8 .tflite, compressed .keras, task); None,
    with nothing written, when it fits as it is (DoesNotFit, exit 1, when nothing fits)."""
    from edgekit.compress import compress_model
    from edgekit.compress.budget import board_budget, describe_overflow, footprint
    from edgekit.compress.search import METHODS
    from edgekit.model.tflite_graph import load_graph

    budget = board_budget(board, runtime)
    fit = footprint(tflite.read_bytes(), load_graph(tflite), board, budget)
    over = fit.overflow(budget)
    if not over:
        steps.append(("compress", f"not needed: the int8 model fits {board.id} as it is (flash ~{fit.flash:,} B, "
                                  f"RAM ~{fit.ram:,} B)"))
        return None
    with step(f"compressing to fit {board.id} ({describe_overflow(over)})"):
        c = compress_model(model, data, board, runtime=runtime, methods=methods or METHODS,
                           out_dir=out_dir / "compress")
    chosen = c.report.chosen_candidate()
    if chosen is None or chosen.id == "original" or c.tflite_model is None or c.keras_model is None:
        steps.append(("compress", "not needed: the model fits as it is"))
        return None
    steps.append(("compress", f"{chosen.id}: flash ~{chosen.flash or 0:,} B, RAM ~{chosen.ram or 0:,} B, "
                              f"{c.report.metric} {chosen.int8_metric or 0.0:.4f} (int8) -> {c.tflite_model}"))
    return c.tflite_model, c.keras_model, c.report.task
