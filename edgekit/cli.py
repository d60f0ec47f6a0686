"""The `edgekit` command: each subcommand is a thin wrapper over one library function."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from edgekit import __version__
from edgekit.boards import DEFAULT_BOARD
from edgekit.cli_compare import compare as compare_command
from edgekit.cli_complete import complete as complete_command
from edgekit.cli_compress import compress as compress_command
from edgekit.cli_stream import stream as stream_command
from edgekit.cli_support import EXIT_INTERNAL, boards_dirs_option, json_option, print_json, run_main
from edgekit.console import err, out, print_command, progress_bar, step
from edgekit.model.metrics import TASKS

__all__ = ["EXIT_INTERNAL", "cli", "main"]
INFERRING = "inferring on the board"  # the progress bar of hil and deploy, from the first test input


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
@json_option
def train(example: str, out_dir: Path | None, epochs: int | None, seed: int, as_json: bool) -> None:
    """Train an example by name (an unknown name lists them): writes model.keras, data.npz, train.json."""
    from edgekit.examples import get_example
    from edgekit.model.train import train_example
    from edgekit.views import train_table

    get_example(example)  # unknown names fail before TensorFlow loads
    out_dir = out_dir or Path("out") / example
    with step(f"training '{example}'"):
        result = train_example(example, out_dir, epochs=epochs, seed=seed)
    if as_json:
        print_json(result.to_dict())
        return
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
@click.option("--task", type=click.Choice(TASKS),
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
        print_json(report.to_dict())
        return
    out.print(quant_table(report))
    out.print(f"int8 model: {report.tflite_model} (ops: {', '.join(report.ops)})\n"
              f"report:     {report_path_for(Path(report.tflite_model))}")


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--task", type=click.Choice(TASKS),
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
        print_json(report.to_dict())
    else:
        out.print(evaluate_table(report))


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--board", "board_ids", multiple=True, help="Board to check the fit for (repeatable) [default: all].")
@boards_dirs_option
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
        print_json(report.to_dict())
        return
    for table in inspect_tables(report, out.width):
        out.print(table)
    out.print(f"[dim]{report.arena_note}[/]")


@cli.group(invoke_without_command=True)
@boards_dirs_option
@click.pass_context
def boards(ctx: click.Context, boards_dirs: tuple[Path, ...]) -> None:
    """List the boards edgekit knows (boards/*.toml and your own board directories)."""
    ctx.obj = boards_dirs
    if ctx.invoked_subcommand is None:
        ctx.invoke(boards_list)


@boards.command("list")
@json_option
@click.pass_obj
def boards_list(boards_dirs: tuple[Path, ...] | None, as_json: bool = False) -> None:
    """All boards, validated."""
    from edgekit.boards import list_boards
    from edgekit.views import boards_table

    found = list_boards(boards_dirs or ())
    if as_json:
        print_json([{"id": b.id, "name": b.name, "family": b.family, "mcu": b.mcu, "file": str(b.source)}
                     for b in found])
    else:
        out.print(boards_table(found, out.width))


@boards.command("show")
@click.argument("board_id")
@json_option
@click.pass_obj
def boards_show(boards_dirs: tuple[Path, ...] | None, board_id: str, as_json: bool = False) -> None:
    """Everything a board file says."""
    from edgekit.boards import load_board
    from edgekit.views import board_detail, board_dict

    board = load_board(board_id, boards_dirs or ())
    if as_json:
        print_json(board_dict(board))
    else:
        out.print(board_detail(board))


def _runtime_option(f: Callable[..., Any]) -> Callable[..., Any]:
    from edgekit.runtimes import AUTO, DEFAULT_CHOICE, EDGEKIT_RT, RUNTIME_CHOICES, RUNTIMES, TFLM

    f = _tflm_dir_option("the TFLM source tree (create_tflm_tree.py) an STM32 tflm project builds with")(f)
    return click.option("--runtime", type=click.Choice(list(RUNTIME_CHOICES)), default=DEFAULT_CHOICE,
                        show_default=True, help=f"{AUTO}: {EDGEKIT_RT} when it runs every op, else {TFLM}; "
                        + "; ".join(f"{r.name}: {r.summary}" for r in RUNTIMES.values()) + ".")(f)


def _tflm_dir_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--tflm-dir", type=click.Path(file_okay=False, path_type=Path), envvar="TFLM_DIR",
                        help=f"{what[:1].upper()}{what[1:]} [env TFLM_DIR].")


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
@boards_dirs_option
@json_option
def generate(model: Path, board_id: str, out_dir: Path, runtime: str, tflm_dir: Path | None, data_path: Path | None,
             float_model: Path | None, force: bool, boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Write a firmware project for MODEL (int8 .tflite) on a board.

    The project records where MODEL came from: the example and task in train.json beside it
    (written by `edgekit train`), the test data and the float model.
    """
    from edgekit.boards import load_board
    from edgekit.project.generate import generate_project, origin_of_model
    from edgekit.views import generate_dict

    board = load_board(board_id, boards_dirs)
    origin = origin_of_model(model, data_path=data_path, float_model=float_model)
    with step(f"generating {board.family} project for {board.id}"):
        r = generate_project(model, board, out_dir, runtime=runtime, origin=origin, force=force,
                             tflm_dir=tflm_dir)
    if r.runtime_reason:   # on stderr with --json, so stdout stays one JSON document
        (err if as_json else out).print(r.runtime_reason)
    if as_json:
        print_json(generate_dict(r))
        return
    out.print(f"project: {r.project_dir}  (runtime {r.project.runtime}, model sha256:{r.project.model_sha256[:16]}…, "
              f"ops: {', '.join(r.ops)})\n"
              f"estimate before building: flash ~{r.flash_estimate:,} B, RAM ~{r.ram_estimate:,} B "
              f"(arena {r.arena_bytes:,} B); next: edgekit build {r.project_dir}")


@cli.command()
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@_tflm_dir_option("TFLM source tree (create_tflm_tree.py) for tflm projects [default: the one given to generate]")
@click.option("-j", "--jobs", type=int, default=2, show_default=True)
@boards_dirs_option
@json_option
def build(project_dir: Path, tflm_dir: Path | None, jobs: int, boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Build a generated project and check that it fits its board."""
    from edgekit.project.build import build_project
    from edgekit.project.manifest import open_project
    from edgekit.views import build_dict

    project = open_project(project_dir, boards_dirs=boards_dirs)
    with step(f"building {project_dir} for {project.board.id}"):
        result = build_project(project, jobs=jobs, tflm_dir=tflm_dir)
    if as_json:
        print_json(build_dict(result))
        return
    out.print(result.size.table())
    out.print(f"image: {result.elf}")


@cli.command()
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--runner", help="Flash runner [default: the board's first one whose tool is installed].")
@click.option("--port", help="Serial port (ESP32 runners).")
@click.option("--dry-run", is_flag=True, help="Print the exact commands instead of running them.")
@boards_dirs_option
def flash(project_dir: Path, runner: str | None, port: str | None, dry_run: bool,
          boards_dirs: tuple[Path, ...]) -> None:
    """Flash a built project onto its board."""
    from edgekit.project.manifest import open_project
    from edgekit.runners import Executor, FlashImage, make_runner

    project = open_project(project_dir, boards_dirs=boards_dirs)
    project.check_build()   # never flash an image older than the sources
    image = FlashImage(project.elf_path, project.build_dir)
    chosen = make_runner(project.board, runner, Executor(dry_run=dry_run, echo=print_command),
                         port)
    chosen.flash(image)


@cli.group()
def sim() -> None:
    """The virtual board (QEMU) in the background: start prints its serial pty."""


@sim.command("start")
@click.argument("board_id")
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@boards_dirs_option
@json_option
def sim_start(board_id: str, project_dir: Path, boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Start BOARD_ID (a virtual board) with PROJECT_DIR's built firmware.

    \b
    stdout gets the serial port alone, for scripts:  PORT=$(edgekit sim start B DIR)
    stderr gets the sentence for people; --json prints pid, port, log and QEMU's argv.
    """
    from edgekit.project.manifest import open_project
    from edgekit.sim.background import start_background

    state = start_background(open_project(project_dir, boards_dirs=boards_dirs, board_id=board_id))
    err.print(f"virtual board running (pid {state.pid}), serial port: {state.pty}; "
              f"stop it with: edgekit sim stop {board_id} {project_dir}", markup=False)
    if as_json:
        print_json(state.to_dict())
    else:
        click.echo(state.pty)


@sim.command("stop")
@click.argument("board_id")
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@boards_dirs_option
def sim_stop(board_id: str, project_dir: Path, boards_dirs: tuple[Path, ...]) -> None:
    """Stop the virtual board started for PROJECT_DIR."""
    from edgekit.project.manifest import open_project
    from edgekit.sim.background import stop_background

    state = stop_background(open_project(project_dir, boards_dirs=boards_dirs, board_id=board_id))
    out.print(f"stopped pid {state.pid}" if state else f"no virtual board was running for {project_dir}")


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
@click.option("--profile", is_flag=True,
              help="Also time each op of one invoke on the board (table, report.json, profile.png).")
@boards_dirs_option
@json_option
def hil(project_dir: Path, board_id: str | None, port: str | None, data_path: Path | None, samples: int | None,
        runs: int, warmup: int, report_dir: Path | None, junit: Path | None, min_accuracy: float | None,
        max_latency_ms: float | None, require_exact: bool, profile: bool, boards_dirs: tuple[Path, ...],
        as_json: bool) -> None:
    """Validate a project on its board: accuracy, agreement with the host reference, latency."""
    from edgekit.errors import GateFailed
    from edgekit.hil.evaluate import Gates
    from edgekit.hil.harness import HilOptions, run_hil
    from edgekit.hil.report import console_tables
    from edgekit.project.manifest import open_project
    from edgekit.views import hil_dict

    project = open_project(project_dir, boards_dirs=boards_dirs, board_id=board_id)
    opts = HilOptions(port=port, data=data_path, max_samples=samples, bench_runs=runs, warmup=warmup,
                      report_dir=report_dir, junit=junit, gates=Gates(min_accuracy, max_latency_ms, require_exact),
                      profile=profile)
    with progress_bar(INFERRING) as on_progress:
        result = run_hil(project, options=opts, on_progress=on_progress)
    if as_json:
        print_json(hil_dict(result))
    else:
        for table in console_tables(result.report):
            out.print(table)
        for gate in result.report.gates or []:
            out.print(("[green]pass[/] " if gate.passed else "[red]FAIL[/] ") + f"{gate.name}: {gate.message}")
        out.print(f"report: {', '.join(str(p) for p in result.paths)}")
    if not result.gates_passed:
        raise GateFailed("; ".join(result.failed_gates))


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
@click.option("--epochs", type=click.IntRange(min=1),
              help="Training epochs when TARGET is an example [default: the example's CI setting].")
@click.option("--compress", is_flag=True, help="Compress a model that does not fit the board (edgekit compress).")
@boards_dirs_option
@json_option
def deploy(target: str, board_id: str, out_dir: Path | None, runtime: str, tflm_dir: Path | None,
           data_path: Path | None,
           port: str | None, runner: str | None, min_accuracy: float | None, max_latency_ms: float | None,
           require_exact: bool, epochs: int | None, compress: bool, boards_dirs: tuple[Path, ...],
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
    from edgekit.views import deploy_dict, deploy_table

    board = load_board(board_id, boards_dirs)
    out_dir = out_dir or Path("out") / Path(target).stem
    opts = HilOptions(port=port, gates=Gates(min_accuracy, max_latency_ms, require_exact))
    with progress_bar(INFERRING) as on_progress:
        result = run_deploy(target, board, out_dir, runtime=runtime, tflm_dir=tflm_dir, data=data_path, runner=runner,
                            hil_options=opts, step=step, on_progress=on_progress, epochs=epochs,
                            compress=compress)
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


@cli.command()
@click.option("--strict", is_flag=True, help="Exit 4 when a tool the default pipeline needs is missing.")
@json_option
def doctor(strict: bool, as_json: bool) -> None:
    """Which toolchains, flashers and Python packages are present, with install hints."""
    from edgekit.doctor import run_checks, tflm_cache_line
    from edgekit.errors import MissingToolError
    from edgekit.views import doctor_dict, doctor_table

    checks = run_checks()
    if as_json:
        print_json(doctor_dict(checks))
    else:
        out.print(doctor_table(checks, out.width))
        out.print(tflm_cache_line())
    missing = [c.tool.name for c in checks if c.tool.required and not c.found]
    if strict and missing:
        raise MissingToolError(f"missing for the default pipeline: {', '.join(missing)}",
                               hint="install them with the commands above")


cli.add_command(compare_command)   # edgekit/cli_compare.py
cli.add_command(compress_command)  # edgekit/cli_compress.py
cli.add_command(complete_command)  # edgekit/cli_complete.py
cli.add_command(stream_command)    # edgekit/cli_stream.py


def main() -> None:
    """Entry point: expected errors become one line on stderr and a documented exit code."""
    run_main(cli)


if __name__ == "__main__":
    main()
