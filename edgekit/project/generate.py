"""`edgekit generate`: an int8 .tflite + a board -> a complete firmware project.

The project holds the model code for the chosen runtime, the portable core (protocol
endpoint, streaming), the board's port, and ``model/model.tflite``; its manifest records the
model's origin (example, task, class names, input units, test data, float model) as the
caller states it, so every later step reads it from the :class:`~edgekit.project.manifest.Project`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgekit.boards import Board
from edgekit.model.quantize import verify_int8
from edgekit.model.tflite_graph import load_graph
from edgekit.model.vocab import VOCAB_FILE
from edgekit.project.manifest import MODEL_FILE, ModelRecord, Origin, Project
from edgekit.project.render import render_project
from edgekit.runtimes import AUTO
from edgekit.runtimes.base import RuntimeOptions
from edgekit.runtimes.fit import STACK_BYTES, board_fit
from edgekit.runtimes.registry import choose_runtime


@dataclass(frozen=True)
class GenerateResult:
    """The project written and the figures known before building it."""

    project: Project
    arena_bytes: int
    model_flash_bytes: int
    flash_estimate: int
    ram_estimate: int
    ops: tuple[str, ...]
    runtime_reason: str = ""   # why "auto" picked tflm; empty otherwise
    optimize: str = ""          # "speed" or "size" (edgekit-rt), "" for a runtime without the trade
    optimize_reason: str = ""   # why, in one line

    @property
    def project_dir(self) -> Path:
        """The generated project's root directory."""
        return self.project.root


def origin_of_model(model_path: Path, *, data_path: Path | None = None, example: str | None = None,
                    task: str | None = None, float_model: Path | None = None) -> Origin:
    """The origin of `model_path` as the caller knows it; what it does not say is taken from
    what `edgekit train` / `edgekit quantize` wrote beside the model (train.json, the .keras
    model, data.npz), so `edgekit generate out/gesture/model.tflite` needs no more options."""
    from edgekit.examples import EXAMPLES

    model_path = Path(model_path)
    train_json = model_path.parent / "train.json"
    if example is None and train_json.is_file():
        try:
            recorded = json.loads(train_json.read_text())
            example, task = recorded.get("example"), task or recorded.get("task")
        except (ValueError, OSError, AttributeError):
            pass
    known = EXAMPLES.get(example or "")
    if known is not None:
        task = task or known.task
    if float_model is None and model_path.with_suffix(".keras").is_file():
        float_model = model_path.with_suffix(".keras")
    vocab = model_path.parent / VOCAB_FILE   # written by `edgekit train` for token data
    if data_path is None and (model_path.parent / "data.npz").is_file():
        data_path = model_path.parent / "data.npz"
    return Origin(
        model_source=str(model_path.resolve()), example=example, task=task,
        class_names=known.class_names if known else None,
        input_units=known.input_units if known else None,
        test_data=str(Path(data_path).resolve()) if data_path else None,
        float_model=str(Path(float_model).resolve()) if float_model else None,
        vocabulary=str(vocab.resolve()) if vocab.is_file() else None)


def generate_project(model_path: Path, board: Board, out_dir: Path, *, runtime: str = AUTO,
                     origin: Origin | None = None, force: bool = False,
                     options: RuntimeOptions = RuntimeOptions()) -> GenerateResult:
    """Write the firmware project for `model_path` on `board` into `out_dir`.

    `runtime` is a runtime name or "auto" (the first registered runtime that runs every op and
    builds for the board: edgekit-rt, else tflm); `options` carry what runtimes need (the TFLM
    tree a tflm project builds with, else $TFLM_DIR, recorded in the project; --optimize speed|size, else
    chosen against the board's flash, recorded in the manifest). `origin` is
    recorded in the manifest as given (None: a model of unknown origin). Raises ModelError for a
    float or unsupported model (and for auto needing tflm without a tree),
    MissingToolError for a broken tree or a runtime the board cannot have, FitError when it
    cannot fit.
    """
    graph = load_graph(model_path)
    verify_int8(graph, str(model_path))  # a float model gets a clear error here, not in the C compiler
    choice = choose_runtime(graph, runtime, board, options)
    rt = choice.runtime
    model_bytes = Path(model_path).read_bytes()
    code = rt.model_code(graph, model_bytes, str(model_path), board, options)
    need = board_fit(rt, code.footprint, graph, board)
    need.check(str(model_path))
    ops = tuple(graph.op_names())
    project = render_project(
        board, out_dir, model_sources=code.sources, force=force,
        context={"model_sha256": graph.sha256, "runtime": rt.name, "stack_bytes": STACK_BYTES,
                 **rt.template_context(board, options)},
        project_files={MODEL_FILE: model_bytes},
        model=ModelRecord(file=MODEL_FILE, arena_bytes=code.footprint.arena_bytes, ops=ops, optimize=code.optimize),
        origin=origin or Origin(model_source=str(Path(model_path).resolve())),
    )
    return GenerateResult(project, code.footprint.arena_bytes, code.footprint.model_flash_bytes, need.flash_needed,
                          need.ram_needed, ops, choice.reason, code.optimize, code.optimize_reason)
