"""`edgekit stream`: record sensor samples, and live predictions, from the board (edgekit.hil.stream)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from edgekit.cli.farm import farm_options, farm_target, waiting
from edgekit.cli.support import boards_dirs_option, json_option, print_json
from edgekit.console import err, out, step

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.hil.stream import StreamResult


@click.command()
@click.option("--board", "board_id", required=True, help="Board id.")
@click.option("--port", help="Serial port or URL [default: virtual board, else found by USB id].")
@click.option("--project", "project_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Built project (needed to run the virtual board).")
@click.option("--sensor", required=True, help="Sensor id from the board file (edgekit boards show B).")
@click.option("--rate", type=click.IntRange(min=1, max=65535), required=True, help="Samples per second.")
@click.option("--seconds", type=click.FloatRange(min=0.1), required=True)
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output .csv or .npz.")
@click.option("--infer", is_flag=True, help="Also record the device's live predictions.")
@click.option("--input-per-unit", type=float,
              help="With --infer: model input units per sensor unit (0.001: model in g, sensor in mg).")
@click.option("--every", type=click.IntRange(min=1, max=65535),
              help="With --infer: samples between predictions [default: 1, with --keep-state the window].")
@click.option("--keep-state", is_flag=True,
              help="With --infer on a recurrent model: carry its state from one window to the next "
                   "(windows do not overlap) instead of starting each fresh.")
@farm_options
@boards_dirs_option
@json_option
def stream(board_id: str, port: str | None, project_dir: Path | None, sensor: str, rate: int, seconds: float,
           out_path: Path, infer: bool, input_per_unit: float | None, every: int | None, keep_state: bool,
           place: str | None, farm: str | None, tags: tuple[str, ...], farm_timeout: float, no_flash: bool,
           boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Record sensor samples from the board with device timestamps (microseconds)."""
    from edgekit.boards import load_board
    from edgekit.hil.stream import LivePrediction, record_stream
    from edgekit.project.manifest import open_project

    board = load_board(board_id, boards_dirs)
    project = open_project(project_dir, board=board) if project_dir else None

    def show(prediction: LivePrediction) -> None:
        err.print(prediction.text(), highlight=False)

    target = farm_target(place, farm, tags, farm_timeout, port)
    with ExitStack() as stack:
        if target is not None:
            from edgekit.farm.flash import place_port

            port = stack.enter_context(place_port(target, project, flash=not no_flash, on_wait=waiting))
        with step(f"recording {sensor} at {rate} Hz for {seconds:g} s"):
            r = record_stream(board, sensor, rate, seconds, out_path, port=port, project=project,
                              infer=infer, input_per_unit=input_per_unit, keep_state=keep_state, every=every,
                              on_prediction=show)
    if as_json:
        print_json(stream_dict(r))
        return
    rate_text = "-" if r.rate_hz is None else f"{r.rate_hz:.1f} Hz"
    out.print(f"{r.received} samples, {r.dropped} dropped, achieved {rate_text} (asked {rate} Hz) -> {r.path}")


def stream_dict(r: StreamResult) -> dict[str, Any]:
    """`edgekit stream --json`: what the recording got."""
    return {**asdict(r), "path": str(r.path)}
