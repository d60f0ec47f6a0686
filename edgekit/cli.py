"""The `edgekit` command: each subcommand is a thin wrapper over one library function."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from edgekit import __version__
from edgekit.console import err, out, step
from edgekit.errors import EdgekitError

EXIT_INTERNAL = 70  # a bug in edgekit (not the user's input)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _boards_dirs_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--boards-dir", "boards_dirs", multiple=True,
                        type=click.Path(file_okay=False, path_type=Path),
                        help="Extra directory of board files (searched first; repeatable). "
                             "Also: $EDGEKIT_BOARDS_DIR.")(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgekit")
def cli() -> None:
    """edgekit: from a Keras model to a validated STM32 or ESP32 board.

    \b
    Exit codes: 0 ok, 1 a gate failed, 2 bad input or usage, 3 device error,
    4 missing tool, 70 internal error.
    """


@cli.command()
@click.argument("example")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory [default: out/EXAMPLE].")
@click.option("--epochs", type=click.IntRange(min=1), help="Training epochs [default: the example's CI setting].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for data and weights.")
def train(example: str, out_dir: Path | None, epochs: int | None, seed: int) -> None:
    """Train an example (sine, gesture, anomaly, digits): writes model.keras, data.npz, train.json."""
    from edgekit.examples import get_example
    from edgekit.model.train import train_example
    from edgekit.views import train_table

    get_example(example)  # unknown names fail before TensorFlow loads
    out_dir = out_dir or Path("out") / example
    with step(f"training '{example}'"):
        result = train_example(example, out_dir, epochs=epochs, seed=seed)
    out.print(train_table(result))
    out.print(f"model: {result.model}\ndata:  {result.data}")


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--calib", "calib", required=True, type=click.Path(path_type=Path),
              help=".npz with x_calib (else x_train, else x); its test split is used for the report.")
@click.option("--samples", type=int, default=200, show_default=True, help="Calibration samples.")
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Output .tflite [default: MODEL with .tflite suffix].")
@click.option("--test", "test_path", type=click.Path(path_type=Path),
              help="Other .npz to report float vs int8 on [default: the --calib file's x_test/y_test].")
@click.option("--task", type=click.Choice(["classification", "regression", "anomaly"]),
              help="Task for the metric [default: inferred from labels and output shape].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def quantize(model: Path, calib: Path, samples: int, out_path: Path | None, test_path: Path | None,
             task: str | None, as_json: bool) -> None:
    """Full-integer int8 quantization of a Keras model, verified, with a float vs int8 report."""
    from edgekit.model.quant_report import quantize_file, report_path_for
    from edgekit.views import quant_table

    with step(f"quantizing {model} to int8"):
        report = quantize_file(model, calib, out_path, samples=samples, task=task, test_path=test_path)
    if as_json:
        _print_json(report.to_dict())
        return
    out.print(quant_table(report))
    out.print(f"int8 model: {report.tflite_model} (ops: {', '.join(report.ops)})\n"
              f"report:     {report_path_for(Path(report.tflite_model))}")


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--task", type=click.Choice(["classification", "regression", "anomaly"]),
              help="Task for the metric [default: inferred].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def evaluate(model: Path, data: Path, task: str | None, as_json: bool) -> None:
    """Task metric of a .keras or .tflite model on DATA (x_test/y_test, else x/y)."""
    from edgekit.data import load_dataset
    from edgekit.model.evaluate import evaluate_model
    from edgekit.views import evaluate_table

    dataset = load_dataset(data)
    with step(f"evaluating {model}"):
        report = evaluate_model(model, dataset, task)
    if as_json:
        _print_json(report.to_dict())
    else:
        out.print(evaluate_table(report))


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--board", "board_ids", multiple=True, help="Board to check the fit for (repeatable) [default: all].")
@_boards_dirs_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def inspect(model: Path, board_ids: tuple[str, ...], boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Inputs, outputs, ops with MACs, weights, TFLM arena and fit per board of a .tflite model."""
    from edgekit.boards import list_boards, load_board
    from edgekit.model.inspect import inspect_model
    from edgekit.views import inspect_tables

    boards = [load_board(b, boards_dirs) for b in board_ids] if board_ids else list_boards(boards_dirs)
    with step(f"inspecting {model}"):
        report = inspect_model(model, boards)
    if as_json:
        _print_json(report.to_dict())
        return
    for table in inspect_tables(report):
        out.print(table)
    out.print(f"[dim]{report.arena_note}[/]")


@cli.group(invoke_without_command=True)
@_boards_dirs_option
@click.pass_context
def boards(ctx: click.Context, boards_dirs: tuple[Path, ...]) -> None:
    """List the boards edgekit knows (boards/*.toml and your own board directories)."""
    ctx.obj = boards_dirs
    if ctx.invoked_subcommand is None:
        ctx.invoke(boards_list)


@boards.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def boards_list(boards_dirs: tuple[Path, ...] | None, as_json: bool = False) -> None:
    """All boards, validated."""
    from edgekit.boards import list_boards
    from edgekit.views import boards_table

    found = list_boards(boards_dirs or ())
    if as_json:
        _print_json([{"id": b.id, "name": b.name, "family": b.family, "mcu": b.mcu, "file": str(b.source)} for b in found])
    else:
        out.print(boards_table(found))


@boards.command("show")
@click.argument("board_id")
@click.pass_obj
def boards_show(boards_dirs: tuple[Path, ...] | None, board_id: str) -> None:
    """Everything a board file says."""
    from edgekit.boards import load_board
    from edgekit.views import board_detail

    out.print(board_detail(load_board(board_id, boards_dirs or ())))


@cli.command()
@click.option("--strict", is_flag=True, help="Exit 4 when a tool the default pipeline needs is missing.")
def doctor(strict: bool) -> None:
    """Which toolchains, flashers and Python packages are present, with install hints."""
    from edgekit.doctor import run_checks
    from edgekit.errors import MissingToolError
    from edgekit.views import doctor_table

    checks = run_checks()
    out.print(doctor_table(checks))
    missing = [c.requirement.name for c in checks if c.requirement.required and not c.found]
    if strict and missing:
        raise MissingToolError(f"missing for the default pipeline: {', '.join(missing)}",
                               hint="install them with the commands above")


def main() -> None:
    """Entry point: expected errors become one line on stderr and a documented exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
    except EdgekitError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: one line by default, the traceback on request
        if os.environ.get("EDGEKIT_DEBUG"):
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc} "
                   "(a bug in edgekit; rerun with EDGEKIT_DEBUG=1 for the traceback and report it)", err=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
