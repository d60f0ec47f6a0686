"""`edgekit generate`: an int8 .tflite + a board -> a complete firmware project.

The project holds the model code for the chosen runtime, the portable core (protocol
endpoint, streaming), the board's port, and ``model/model.tflite``; its manifest records the
model's origin (example, task, class names, input units, test data, float model) as the
caller states it, so every later step reads it from the :class:`~edgekit.project.manifest.Project`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from edgekit.boards import Board
from edgekit.errors import FitError, ModelError
from edgekit.footprint import STACK_BYTES, estimate
from edgekit.model.quantize import verify_int8
from edgekit.model.tflite_graph import load_graph
from edgekit.project.manifest import MODEL_FILE, ModelRecord, Origin, Project
from edgekit.project.render import render_project
from edgekit.runtimes import AUTO, TFLM, choose_runtime, get_runtime
from edgekit.vocab import VOCAB_FILE


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


def _tflm_tree(board: Board, tflm_dir: Path | None) -> tuple[bool, str]:
    """(whether tflm can be built for `board`, the tree to record): ESP32 brings TFLM as an
    ESP-IDF component; STM32 needs a tree (`tflm_dir`, else $TFLM_DIR; a broken one is exit 4)."""
    from edgekit.project.families import family_of
    from edgekit.project.families.stm32 import Stm32Family
    from edgekit.project.tflm_lib import TFLM_DIR_ENV, find_tree

    if not isinstance(family_of(board), Stm32Family):
        return True, ""
    if not (tflm_dir or os.environ.get(TFLM_DIR_ENV)):
        return False, ""
    return True, str(find_tree(tflm_dir).root)


def generate_project(model_path: Path, board: Board, out_dir: Path, *, runtime: str = AUTO,
                     origin: Origin | None = None, force: bool = False,
                     tflm_dir: Path | None = None) -> GenerateResult:
    """Write the firmware project for `model_path` on `board` into `out_dir`.

    `runtime` is a runtime name or "auto" (edgekit-rt when it runs every op, else tflm);
    `tflm_dir` (else $TFLM_DIR) is the TFLM tree an STM32 tflm project builds with, recorded in
    the project. `origin` is recorded in the manifest as given (None: a model of unknown
    origin). Raises ModelError for a float, multi-input or unsupported model (and for auto
    needing tflm without a tree), MissingToolError for a broken tree, FitError when it cannot fit.
    """
    graph = load_graph(model_path)
    verify_int8(graph, str(model_path))  # a float model gets a clear error here, not in the C compiler
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ModelError(f"{model_path} has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
                         "the firmware supports single-input, single-output models")
    tflm_ok, tree = _tflm_tree(board, tflm_dir) if runtime in (AUTO, TFLM) else (False, "")
    choice = choose_runtime(graph, runtime, tflm_available=tflm_ok)
    rt = get_runtime(choice.name)
    model_bytes = Path(model_path).read_bytes()
    code = rt.model_code(graph, model_bytes, str(model_path))
    need = estimate(rt.name, model_flash=code.model_flash_bytes, arena=code.arena_bytes,
                    io_bytes=graph.input_tensors[0].nbytes + graph.output_tensors[0].nbytes,
                    state_bytes=code.state_bytes)
    for region, amount, have in (("flash", need.flash, board.flash.size), ("RAM", need.ram, board.ram.size)):
        if amount > have:
            raise FitError(f"{model_path} does not fit {board.id} with runtime {rt.name}: {region} needs about "
                           f"{amount:,} bytes, the board has {have:,}",
                           hint="use a smaller model, another runtime, or a board with more memory")
    ops = tuple(graph.op_names())
    project = render_project(
        board, out_dir, model_sources=code.sources, force=force,
        context={"model_sha256": graph.sha256, "runtime": rt.name, "stack_bytes": STACK_BYTES,
                 "tflm_dir": tree if rt.name == TFLM else ""},
        project_files={MODEL_FILE: model_bytes},
        model=ModelRecord(file=MODEL_FILE, arena_bytes=code.arena_bytes, ops=ops),
        origin=origin or Origin(model_source=str(Path(model_path).resolve())),
    )
    return GenerateResult(project, code.arena_bytes, code.model_flash_bytes, need.flash, need.ram, ops,
                          choice.reason)
