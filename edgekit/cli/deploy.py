"""`edgekit deploy`: the whole pipeline in one command (edgekit.deploy)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from edgekit.boards import DEFAULT_BOARD
from edgekit.cli.hil import hil_dict
from edgekit.cli.support import (
    INFERRING,
    boards_dirs_option,
    custom_objects_option,
    json_option,
    optimize_option,
    print_json,
    runtime_option,
)
from edgekit.console import out, progress_bar, step

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.deploy import DeployResult


@click.command()
@click.argument("target")
@click.option("--board", "board_id", default=DEFAULT_BOARD, show_default=True,
              help="Board id; the default is the virtual board (QEMU).")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Working directory [default: out/TARGET].")
@runtime_option
@optimize_option
@click.option("--data", "data_path", type=click.Path(path_type=Path),
              help="Calibration/test .npz for a .keras or .tflite target.")
@click.option("--port", help="Serial port of a physical board [default: found by USB id].")
@click.option("--runner", help="Flash runner [default: the board's first installed one].")
@click.option("--min-accuracy", type=float, help="Gate: on-device accuracy (or AUC) at least this.")
@click.option("--max-latency-ms", type=float, help="Gate: p99 latency at most this.")
@click.option("--require-exact", is_flag=True, help="Gate: every output equals the host TFLM reference.")
@click.option("--epochs", type=click.IntRange(min=1),
              help="Training epochs when TARGET is an example [default: the example's CI setting].")
@click.option("--compress", is_flag=True, help="Compress a model that does not fit the board (edgekit compress).")
@click.option("--activations", type=click.Choice(["int8", "int16"]), default="int8", show_default=True,
              help="Quantize a Keras model to int8, or to 16x8 (int16 activations, int8 weights).")
@click.option("--decode", is_flag=True,
              help="Deploy a causal LM's decode step: one token per invoke, its attention caches kept on the "
                   "board (an example that is a causal LM always is).")
@boards_dirs_option
@json_option
@custom_objects_option
def deploy(target: str, board_id: str, out_dir: Path | None, runtime: str, tflm_dir: Path | None,
           optimize: str | None, data_path: Path | None,
           port: str | None, runner: str | None, min_accuracy: float | None, max_latency_ms: float | None,
           require_exact: bool, epochs: int | None, compress: bool, activations: str, decode: bool,
           boards_dirs: tuple[Path, ...],
           as_json: bool) -> None:
    """The whole pipeline: TARGET is an example name, a .keras model or an int8 .tflite.

    train -> quantize -> generate -> build -> flash -> hil, on the virtual board by default.
    """
    from edgekit.boards import load_board
    from edgekit.deploy import deploy as run_deploy
    from edgekit.errors import GateFailed
    from edgekit.hil.evaluate import Gates
    from edgekit.hil.harness import HilOptions
    from edgekit.hil.report import console_tables
    from edgekit.runtimes.base import RuntimeOptions

    board = load_board(board_id, boards_dirs)
    out_dir = out_dir or Path("out") / Path(target).stem
    opts = HilOptions(port=port, gates=Gates(min_accuracy, max_latency_ms, require_exact))
    with progress_bar(INFERRING) as on_progress:
        result = run_deploy(target, board, out_dir, runtime=runtime,
                            options=RuntimeOptions((tflm_dir,) if tflm_dir else (), optimize), data=data_path,
                            runner=runner, hil_options=opts, step=step, on_progress=on_progress, epochs=epochs,
                            compress=compress, activations=activations, decode=decode)
    if as_json:
        print_json(deploy_dict(result))
        if not result.hil.gates_passed:
            raise GateFailed("; ".join(result.hil.failed_gates))
        return
    for table in console_tables(result.hil.report):
        out.print(table)
    out.print(deploy_table(result, f"edgekit deploy {target} on {board.id}"))
    if not result.hil.gates_passed:
        raise GateFailed("; ".join(result.hil.failed_gates))


def deploy_table(r: DeployResult, title: str) -> Table:
    """What each stage produced."""
    t = Table(title=title)
    t.add_column("step", no_wrap=True)
    t.add_column("result", overflow="fold")
    for name, text in r.steps:
        t.add_row(name, text)
    return t


def deploy_dict(r: DeployResult) -> dict[str, Any]:
    """`edgekit deploy --json`: what each stage produced, and the validation on the board."""
    return {"steps": [{"step": name, "result": text} for name, text in r.steps], "hil": hil_dict(r.hil)}
