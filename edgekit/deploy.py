"""`edgekit deploy`: the whole pipeline in one command.

    train (for an example) -> quantize (for a Keras model) -> generate -> build -> flash -> hil

With the virtual board, "flash" is QEMU loading the ELF when hil starts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from edgekit.boards import Board
from edgekit.errors import UsageError
from edgekit.examples import EXAMPLES
from edgekit.hil.harness import HilOptions, HilResult, run_hil


@dataclass
class DeployResult:
    steps: list[tuple[str, str]] = field(default_factory=list)  # (step, what it produced)
    hil: HilResult | None = None


def deploy(target: str, board: Board, out_dir: Path, *, runtime: str = "edgekit-rt",
           data: Path | None = None, runner: str | None = None, hil_options: HilOptions | None = None,
           step: Callable[[str], Any], on_progress: Callable[[int, int], None] | None = None) -> DeployResult:
    """Run every stage for `target`: an example name, a .keras model (with `data`), or an int8 .tflite.

    `step(message)` returns a context manager that shows progress for one stage.
    """
    from edgekit.model.quant_report import quantize_file
    from edgekit.model.train import DATA_FILE, train_example
    from edgekit.project.build import build_project
    from edgekit.project.generate import generate_project

    result = DeployResult()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = Path(target)
    if target in EXAMPLES:
        with step(f"training example '{target}'"):
            trained = train_example(target, out_dir)
        result.steps.append(("train", f"{trained.metric} {trained.float_test:.4f} (float) -> {trained.model}"))
        path, data = Path(trained.model), out_dir / DATA_FILE
    elif not path.exists():
        raise UsageError(f"'{target}' is neither an example ({', '.join(EXAMPLES)}) nor an existing model file")
    if path.suffix in (".keras", ".h5"):
        if data is None:
            raise UsageError(f"deploying {path} needs data for calibration and testing", hint="pass --data DATA.npz")
        with step("quantizing to int8"):
            q = quantize_file(path, data, out_dir / "model.tflite")
        summary = f"{q.metric} {q.int8_value:.4f} (int8, {q.int8_backend})" if q.metric else "verified int8"
        result.steps.append(("quantize", f"{summary} -> {q.tflite_model}"))
        path = Path(q.tflite_model)
    elif path.suffix != ".tflite":
        raise UsageError(f"{path}: expected an example name, a .keras model or an int8 .tflite")
    project_dir = out_dir / f"firmware-{board.id}"
    with step(f"generating the {board.family} project ({runtime})"):
        gen = generate_project(path, board, project_dir, runtime=runtime, data_path=data)
    result.steps.append(("generate", f"{gen.project_dir} (arena {gen.arena_bytes:,} B)"))
    with step(f"building for {board.id}"):
        built = build_project(project_dir, board)
    result.steps.append(("build", f"flash {built.size.flash_used:,} B, RAM {built.size.ram_used:,} B -> {built.elf}"))
    opts = hil_options or HilOptions()
    if board.virtual:
        result.steps.append(("flash", "virtual board: QEMU loads the ELF"))
    else:
        from edgekit.runners import Executor, FlashImage, make_runner

        with step(f"flashing {board.id}"):
            flasher = make_runner(board, runner, Executor(echo=lambda s: None), opts.port)
            flasher.flash(FlashImage(built.elf, built.build_dir))
        result.steps.append(("flash", f"with {flasher.name}"))
    result.hil = run_hil(project_dir, options=opts, on_progress=on_progress)
    rep = result.hil.report
    agree = rep.get("agreement", {})
    task = rep.get("task") or {}
    metric = f"{task['metric']} {task['device']:.4f} on device, " if task.get("metric") else ""
    result.steps.append(("hil", f"{metric}{agree.get('exact_share', 0):.1%} exact with the host reference"
                                f" -> {result.hil.paths[0].parent}"))
    return result
