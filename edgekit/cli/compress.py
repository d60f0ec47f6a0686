"""`edgekit compress`: make a Keras model fit a board (edgekit.compress)."""

from __future__ import annotations

from pathlib import Path

import click

from edgekit.cli.support import RuntimeName, boards_dirs_option, custom_objects_option, json_option, print_json
from edgekit.console import out, progress_bar
from edgekit.runtimes import AUTO


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path),
              help=".npz with x_train/y_train (fine-tuning), x_test/y_test (scoring), x_calib (else x_train).")
@click.option("--board", "board_id", required=True, help="Board whose flash and RAM the model must fit.")
@click.option("--runtime", type=RuntimeName(), default=AUTO, show_default=True,
              help="Runtime the budget is computed for (auto: edgekit-rt when it runs the model, else tflm).")
@click.option("--max-flash", type=click.IntRange(min=1), help="Firmware flash budget in bytes [default: the board's].")
@click.option("--max-ram", type=click.IntRange(min=1), help="Firmware RAM budget in bytes [default: the board's].")
@click.option("--max-latency-ms", type=click.FloatRange(min=0, min_open=True),
              help="Predicted latency budget (MACs x the runtime's instructions per MAC at the board's clock).")
@click.option("--max-drop", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Allowed loss of the int8 model against the original float: points of accuracy or "
                   "ROC AUC x 100; for MAE, percent of the original's error.")
@click.option("--methods", default="prune,lowrank,distill,qat", show_default=True,
              help="Comma-separated: prune, lowrank, distill, qat.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory [default: MODEL's directory / MODEL-compressed].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for fine-tuning (same seed, same result).")
@click.option("--importance", default="l1", show_default=True,
              help="How pruning ranks channels: l1 (weight magnitude) or taylor (|w x dL/dw| over a few batches).")
@boards_dirs_option
@json_option
@custom_objects_option
def compress(model: Path, data_path: Path, board_id: str, runtime: str, max_flash: int | None, max_ram: int | None,
             max_latency_ms: float | None, max_drop: float, methods: str, out_dir: Path | None, seed: int,
             importance: str, boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Make a Keras model fit a board: structured pruning, low-rank factorization, distillation
    and quantization-aware training, searched against the board's budget.

    Writes compressed.keras, compressed.tflite (int8) and compress.json/.md/.png; exit 1 with
    the distance to the budget when nothing fits.
    """
    from edgekit.boards import load_board
    from edgekit.compress import compress_model, parse_methods
    from edgekit.compress.report import console_table

    chosen = parse_methods(methods)
    board = load_board(board_id, boards_dirs)
    with progress_bar(f"compressing {model.name} for {board.id}") as on_progress:
        result = compress_model(model, data_path, board, runtime=runtime, max_flash=max_flash, max_ram=max_ram,
                                max_latency_ms=max_latency_ms, max_drop=max_drop, methods=chosen, out_dir=out_dir,
                                seed=seed, on_progress=on_progress, importance=importance)
    if as_json:
        print_json(result.to_dict())
        return
    out.print(console_table(result.report))
    out.print(f"chosen: {result.report.chosen} ({result.report.reason})", markup=False)
    out.print(f"model:  {result.keras_model}\nint8:   {result.tflite_model}\n"
              f"report: {', '.join(str(p) for p in result.report_files)}", markup=False)


__all__ = ["compress"]
