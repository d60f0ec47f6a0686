"""The `edgekit` command: each subcommand is a thin wrapper over one library function."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from edgekit import __version__
from edgekit.boards import DEFAULT_BOARD
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
        _print_json([{"id": b.id, "name": b.name, "family": b.family, "mcu": b.mcu, "file": str(b.source)}
                     for b in found])
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


def _runtime_option(f: Callable[..., Any]) -> Callable[..., Any]:
    from edgekit.runtimes import DEFAULT_RUNTIME, RUNTIMES

    return click.option("--runtime", type=click.Choice(list(RUNTIMES)), default=DEFAULT_RUNTIME,
                        show_default=True, help="; ".join(f"{r.name}: {r.summary}" for r in RUNTIMES.values())
                        + ".")(f)


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--board", "board_id", required=True, help="Board id (edgekit boards).")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Project directory to write.")
@_runtime_option
@click.option("--data", "data_path", type=click.Path(path_type=Path),
              help="Test data the harness uses by default [default: data.npz next to the model].")
@click.option("--float-model", type=click.Path(dir_okay=False, path_type=Path),
              help="The Keras model before quantization, for float-vs-device figures "
                   "[default: MODEL with .keras suffix, when it exists].")
@click.option("--force", is_flag=True, help="Overwrite a directory edgekit did not generate, or edited files.")
@_boards_dirs_option
def generate(model: Path, board_id: str, out_dir: Path, runtime: str, data_path: Path | None,
             float_model: Path | None, force: bool, boards_dirs: tuple[Path, ...]) -> None:
    """Write a firmware project for MODEL (int8 .tflite) on a board.

    The project records where MODEL came from: the example and task in train.json beside it
    (written by `edgekit train`), the test data and the float model.
    """
    from edgekit.boards import load_board
    from edgekit.project.generate import generate_project, origin_of_model

    board = load_board(board_id, boards_dirs)
    origin = origin_of_model(model, data_path=data_path, float_model=float_model)
    with step(f"generating {board.family} project for {board.id}"):
        r = generate_project(model, board, out_dir, runtime=runtime, origin=origin, force=force)
    out.print(f"project: {r.project_dir}  (runtime {r.project.runtime}, model sha256:{r.project.model_sha256[:16]}…, "
              f"ops: {', '.join(r.ops)})\n"
              f"estimate before building: flash ~{r.flash_estimate:,} B, RAM ~{r.ram_estimate:,} B "
              f"(arena {r.arena_bytes:,} B); next: edgekit build {r.project_dir}")


@cli.command()
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--tflm-dir", type=click.Path(file_okay=False, path_type=Path), envvar="TFLM_DIR",
              help="TFLM source tree (create_tflm_tree.py) for --runtime tflm projects [env TFLM_DIR].")
@click.option("-j", "--jobs", type=int, default=2, show_default=True)
@_boards_dirs_option
def build(project_dir: Path, tflm_dir: Path | None, jobs: int, boards_dirs: tuple[Path, ...]) -> None:
    """Build a generated project and check that it fits its board."""
    from edgekit.project.build import build_project
    from edgekit.project.manifest import open_project

    project = open_project(project_dir, boards_dirs=boards_dirs)
    with step(f"building {project_dir} for {project.board.id}"):
        result = build_project(project, jobs=jobs, tflm_dir=tflm_dir)
    out.print(result.size.table())
    out.print(f"image: {result.elf}")


@cli.command()
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--runner", help="Flash runner [default: the board's first one whose tool is installed].")
@click.option("--port", help="Serial port (ESP32 runners).")
@click.option("--dry-run", is_flag=True, help="Print the exact commands instead of running them.")
@_boards_dirs_option
def flash(project_dir: Path, runner: str | None, port: str | None, dry_run: bool,
          boards_dirs: tuple[Path, ...]) -> None:
    """Flash a built project onto its board."""
    from edgekit.project.manifest import open_project
    from edgekit.runners import Executor, FlashImage, make_runner

    project = open_project(project_dir, boards_dirs=boards_dirs)
    image = FlashImage(project.elf_path, project.build_dir)
    chosen = make_runner(project.board, runner, Executor(dry_run=dry_run, echo=lambda s: out.print(s, markup=False)),
                         port)
    chosen.flash(image)


@cli.group()
def sim() -> None:
    """The virtual board (QEMU) in the background: start prints its serial pty."""


@sim.command("start")
@click.argument("board_id")
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@_boards_dirs_option
def sim_start(board_id: str, project_dir: Path, boards_dirs: tuple[Path, ...]) -> None:
    """Start BOARD_ID (a virtual board) with PROJECT_DIR's built firmware."""
    from edgekit.project.manifest import open_project
    from edgekit.sim.background import start_background

    state = start_background(open_project(project_dir, boards_dirs=boards_dirs, board_id=board_id))
    out.print(f"virtual board running (pid {state.pid}), serial port: {state.pty}")
    click.echo(state.pty, err=True)


@sim.command("stop")
@click.argument("board_id")
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@_boards_dirs_option
def sim_stop(board_id: str, project_dir: Path, boards_dirs: tuple[Path, ...]) -> None:
    """Stop the virtual board started for PROJECT_DIR."""
    from edgekit.project.manifest import open_project
    from edgekit.sim.background import stop_background

    state = stop_background(open_project(project_dir, boards_dirs=boards_dirs, board_id=board_id))
    out.print(f"stopped pid {state.pid}" if state else f"no virtual board was running for {project_dir}")


@contextmanager
def _inference_progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr for test inputs sent to the board; yields the update callback."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, transient=True) as progress:
        task = progress.add_task("inferring on the board", total=None)
        yield lambda i, n: progress.update(task, completed=i, total=n)


@cli.command()
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--board", "board_id", help="Board id [default: the project's].")
@click.option("--port", help="Serial port or URL [default: virtual board started here, else found by USB id].")
@click.option("--data", "data_path", type=click.Path(path_type=Path),
              help="Test .npz [default: the model's test split].")
@click.option("--samples", type=click.IntRange(min=1), help="Use only the first N test inputs.")
@click.option("--runs", type=click.IntRange(min=0), default=100, show_default=True, help="Timed BENCH runs (0: skip).")
@click.option("--warmup", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Report directory [default: PROJECT_DIR/hil-report].")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Also write JUnit XML here.")
@click.option("--min-accuracy", type=float, help="Gate: on-device accuracy (or AUC) at least this.")
@click.option("--max-latency-ms", type=float, help="Gate: p99 latency at most this.")
@click.option("--require-exact", is_flag=True, help="Gate: every output equals the host TFLM reference.")
@_boards_dirs_option
def hil(project_dir: Path, board_id: str | None, port: str | None, data_path: Path | None, samples: int | None,
        runs: int, warmup: int, report_dir: Path | None, junit: Path | None, min_accuracy: float | None,
        max_latency_ms: float | None, require_exact: bool, boards_dirs: tuple[Path, ...]) -> None:
    """Validate a project on its board: accuracy, agreement with the host reference, latency."""
    from edgekit.errors import GateFailed
    from edgekit.hil.evaluate import Gates
    from edgekit.hil.harness import HilOptions, run_hil
    from edgekit.hil.report import console_tables
    from edgekit.project.manifest import open_project

    project = open_project(project_dir, boards_dirs=boards_dirs, board_id=board_id)
    opts = HilOptions(port=port, data=data_path, max_samples=samples, bench_runs=runs, warmup=warmup,
                      report_dir=report_dir, junit=junit, gates=Gates(min_accuracy, max_latency_ms, require_exact))
    with _inference_progress() as on_progress:
        result = run_hil(project, options=opts, on_progress=on_progress)
    for table in console_tables(result.report):
        out.print(table)
    for gate in result.report.gates or []:
        out.print(("[green]pass[/] " if gate.passed else "[red]FAIL[/] ") + f"{gate.name}: {gate.message}")
    out.print(f"report: {', '.join(str(p) for p in result.paths)}")
    if not result.gates_passed:
        raise GateFailed("; ".join(result.failed_gates))


@cli.command()
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
@_boards_dirs_option
def stream(board_id: str, port: str | None, project_dir: Path | None, sensor: str, rate: int, seconds: float,
           out_path: Path, infer: bool, input_per_unit: float | None, boards_dirs: tuple[Path, ...]) -> None:
    """Record sensor samples from the board with device timestamps."""
    import numpy as np

    from edgekit.boards import load_board
    from edgekit.hil.protocol import Sample
    from edgekit.hil.stream import record_stream
    from edgekit.project.manifest import open_project

    board = load_board(board_id, boards_dirs)
    project = open_project(project_dir, board=board) if project_dir else None
    def show(sample: Sample) -> None:
        if infer and sample.prediction:
            values = [int(v) for v in np.frombuffer(sample.prediction, dtype=np.int8)]
            err.print(f"t={sample.t_ms} ms prediction (int8) {values}", highlight=False)

    with step(f"recording {sensor} at {rate} Hz for {seconds:g} s"):
        r = record_stream(board, sensor, rate, seconds, out_path, port=port, project=project,
                          infer=infer, input_per_unit=input_per_unit, on_sample=show)
    rate_text = "-" if r.rate_hz is None else f"{r.rate_hz:.1f} Hz"
    out.print(f"{r.received} samples, {r.dropped} dropped, achieved {rate_text} (asked {rate} Hz) -> {r.path}")


@cli.command()
@click.argument("target")
@click.option("--board", "board_id", default=DEFAULT_BOARD, show_default=True,
              help="Board id; the default is the virtual board (QEMU).")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Working directory [default: out/TARGET].")
@_runtime_option
@click.option("--data", "data_path", type=click.Path(path_type=Path),
              help="Calibration/test .npz for a .keras or .tflite target.")
@click.option("--port", help="Serial port of a physical board [default: found by USB id].")
@click.option("--runner", help="Flash runner [default: the board's first installed one].")
@click.option("--min-accuracy", type=float, help="Gate: on-device accuracy (or AUC) at least this.")
@click.option("--max-latency-ms", type=float, help="Gate: p99 latency at most this.")
@click.option("--require-exact", is_flag=True, help="Gate: every output equals the host TFLM reference.")
@_boards_dirs_option
def deploy(target: str, board_id: str, out_dir: Path | None, runtime: str, data_path: Path | None,
           port: str | None, runner: str | None, min_accuracy: float | None, max_latency_ms: float | None,
           require_exact: bool, boards_dirs: tuple[Path, ...]) -> None:
    """The whole pipeline: TARGET is an example name, a .keras model or an int8 .tflite.

    train -> quantize -> generate -> build -> flash -> hil, on the virtual board by default.
    """
    from rich.table import Table

    from edgekit.boards import load_board
    from edgekit.deploy import deploy as run_deploy
    from edgekit.errors import GateFailed
    from edgekit.hil.evaluate import Gates
    from edgekit.hil.harness import HilOptions
    from edgekit.hil.report import console_tables

    board = load_board(board_id, boards_dirs)
    out_dir = out_dir or Path("out") / Path(target).stem
    opts = HilOptions(port=port, gates=Gates(min_accuracy, max_latency_ms, require_exact))
    with _inference_progress() as on_progress:
        result = run_deploy(target, board, out_dir, runtime=runtime, data=data_path, runner=runner,
                            hil_options=opts, step=step, on_progress=on_progress)
    for table in console_tables(result.hil.report):
        out.print(table)
    summary = Table(title=f"edgekit deploy {target} on {board.id}")
    summary.add_column("step")
    summary.add_column("result")
    for name, text in result.steps:
        summary.add_row(name, text)
    out.print(summary)
    if not result.hil.gates_passed:
        raise GateFailed("; ".join(result.hil.failed_gates))


@cli.command()
@click.option("--strict", is_flag=True, help="Exit 4 when a tool the default pipeline needs is missing.")
def doctor(strict: bool) -> None:
    """Which toolchains, flashers and Python packages are present, with install hints."""
    from edgekit.doctor import run_checks
    from edgekit.errors import MissingToolError
    from edgekit.views import doctor_table

    checks = run_checks()
    out.print(doctor_table(checks))
    missing = [c.tool.name for c in checks if c.tool.required and not c.found]
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
        sys.exit(exc.exit_code)
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
