"""`edgekit generate`: an int8 .tflite + a board -> a complete firmware project.

The project holds the model code for the chosen runtime, the portable core (protocol
endpoint, streaming), the board's port, and `model/model.tflite` with edgekit.json recording
where the model came from, so `edgekit hil` knows the expected hash, the host reference and
the default test data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.boards import Board
from edgekit.errors import FitError, ModelError
from edgekit.footprint import STACK_BYTES, estimate
from edgekit.model.quantize import verify_int8
from edgekit.model.tflite_graph import Graph, load_graph
from edgekit.project.render import RUNTIMES, read_manifest, render_project

MODEL_FILE = "model/model.tflite"


@dataclass
class GenerateResult:
    project_dir: Path
    board: str
    runtime: str
    model_sha256: str
    arena_bytes: int
    model_flash_bytes: int
    flash_estimate: int
    ram_estimate: int
    ops: list[str]


def _model_code(graph: Graph, model_bytes: bytes, runtime: str, where: str) -> tuple[dict[str, str], int, int]:
    """(generated files, arena bytes, model constant bytes in flash) for the runtime."""
    if runtime == "edgekit-rt":
        from edgekit.codegen import generate_model_code, plan_summary

        summary = plan_summary(graph)  # ModelError names an unsupported op and points to tflm
        return generate_model_code(graph), summary["arena_bytes"], summary["const_bytes"]
    from edgekit.codegen.tflm_array import generate_tflm_code
    from edgekit.model.reference import device_arena_bytes, measure_tflm_arena

    host_arena = measure_tflm_arena(where, graph)
    if host_arena is None:
        raise ModelError(f"{where}: cannot size the TFLM arena (tflite_micro is missing or the model "
                         "does not allocate)", hint="install tflite-micro (Linux x86_64), or use --runtime edgekit-rt")
    arena = device_arena_bytes(host_arena)
    return generate_tflm_code(graph, model_bytes, arena), arena, len(model_bytes)


def _origin(model_path: Path, data_path: Path | None) -> dict[str, Any]:
    """Where the model came from: train.json next to it names the example, data and Keras model."""
    origin: dict[str, Any] = {"model_source": str(model_path.resolve())}
    train_json = model_path.parent / "train.json"
    if train_json.is_file():
        try:
            train = json.loads(train_json.read_text())
            origin["example"] = train.get("example")
            origin["task"] = train.get("task")
        except ValueError:
            pass
    keras_model = model_path.with_suffix(".keras")
    if keras_model.is_file():
        origin["float_model"] = str(keras_model.resolve())
    data = data_path or (model_path.parent / "data.npz")
    if data.is_file():
        origin["test_data"] = str(data.resolve())
    return origin


def generate_project(model_path: Path, board: Board, out_dir: Path, *, runtime: str = "edgekit-rt",
                     data_path: Path | None = None, force: bool = False) -> GenerateResult:
    if runtime not in RUNTIMES:
        raise ModelError(f"unknown runtime '{runtime}'", hint=f"use one of: {', '.join(RUNTIMES)}")
    graph = load_graph(model_path)
    verify_int8(graph, str(model_path))  # a float model gets a clear error here, not in the C compiler
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ModelError(f"{model_path} has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
                         "the firmware supports single-input, single-output models")
    model_bytes = model_path.read_bytes()
    sources, arena, model_flash = _model_code(graph, model_bytes, runtime, str(model_path))
    need = estimate(runtime, model_flash=model_flash, arena=arena,
                    io_bytes=graph.input_tensors[0].size + graph.output_tensors[0].size)
    for region, amount, have in (("flash", need.flash, board.flash.size), ("RAM", need.ram, board.ram.size)):
        if amount > have:
            raise FitError(f"{model_path} does not fit {board.id} with runtime {runtime}: {region} needs about "
                           f"{amount:,} bytes, the board has {have:,}",
                           hint="use a smaller model, another runtime, or a board with more memory")
    render_project(
        board, out_dir, model_sources=sources, force=force,
        context={"model_sha256": graph.sha256, "runtime": runtime, "stack_bytes": STACK_BYTES},
        project_files={MODEL_FILE: model_bytes},
        manifest_extra={"model": {**_origin(model_path, data_path), "file": MODEL_FILE,
                                  "arena_bytes": arena, "ops": graph.op_names()}},
    )
    return GenerateResult(Path(out_dir), board.id, runtime, graph.sha256, arena, model_flash, need.flash,
                          need.ram, graph.op_names())


def project_model(project_dir: Path) -> tuple[dict[str, Any], Path]:
    """The manifest of a generated project and the path of its model copy."""
    manifest = read_manifest(project_dir)
    model = manifest.get("model") or {}
    return manifest, Path(project_dir) / model.get("file", MODEL_FILE)
