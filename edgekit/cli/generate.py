"""`edgekit generate`: an int8 .tflite + a board -> a firmware project (edgekit.project.generate)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from edgekit.cli.support import boards_dirs_option, json_option, optimize_option, print_json, runtime_option
from edgekit.console import err, out, step

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.project.generate import GenerateResult


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--board", "board_id", required=True, help="Board id (edgekit boards).")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Project directory to write.")
@runtime_option
@optimize_option
@click.option("--data", "data_path", type=click.Path(path_type=Path),
              help="Test data the harness uses by default [default: data.npz next to the model].")
@click.option("--float-model", type=click.Path(dir_okay=False, path_type=Path),
              help="The Keras model before quantization, for float-vs-device figures "
                   "[default: MODEL with .keras suffix, when it exists].")
@click.option("--force", is_flag=True, help="Overwrite a directory edgekit did not generate, or edited files.")
@boards_dirs_option
@json_option
def generate(model: Path, board_id: str, out_dir: Path, runtime: str, tflm_dir: Path | None, optimize: str | None,
             data_path: Path | None,
             float_model: Path | None, force: bool, boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Write a firmware project for MODEL (int8 .tflite) on a board.

    The project records where MODEL came from: the example and task in train.json beside it
    (written by `edgekit train`), the test data and the float model.
    """
    from edgekit.boards import load_board
    from edgekit.project.generate import generate_project, origin_of_model
    from edgekit.runtimes.base import RuntimeOptions

    board = load_board(board_id, boards_dirs)
    origin = origin_of_model(model, data_path=data_path, float_model=float_model)
    with step(f"generating {board.family} project for {board.id}"):
        r = generate_project(model, board, out_dir, runtime=runtime, origin=origin, force=force,
                             options=RuntimeOptions((tflm_dir,) if tflm_dir else (), optimize))
    if r.runtime_reason:   # on stderr with --json, so stdout stays one JSON document
        (err if as_json else out).print(r.runtime_reason)
    if as_json:
        print_json(generate_dict(r))
        return
    out.print(f"project: {r.project_dir}  (runtime {r.project.runtime}, model sha256:{r.project.model_sha256[:16]}…, "
              f"ops: {', '.join(r.ops)})\n"
              + (f"optimized for {r.optimize_reason}\n" if r.optimize_reason else "")
              + f"estimate before building: flash ~{r.flash_estimate:,} B, RAM ~{r.ram_estimate:,} B "
              f"(arena {r.arena_bytes:,} B); next: edgekit build {r.project_dir}")


def generate_dict(r: GenerateResult) -> dict[str, Any]:
    """`edgekit generate --json`: the project written and the estimates before building."""
    return {"project_dir": str(r.project_dir), "board": r.project.board.id, "runtime": r.project.runtime,
            "model_sha256": r.project.model_sha256, "ops": list(r.ops), "arena_bytes": r.arena_bytes,
            "model_flash_bytes": r.model_flash_bytes, "flash_estimate": r.flash_estimate,
            "ram_estimate": r.ram_estimate, "runtime_reason": r.runtime_reason or None,
            "optimize": r.optimize or None, "optimize_reason": r.optimize_reason or None}
