"""`edgekit hil`: validate a project on its board (edgekit.hil.harness)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from edgekit.cli.farm import farm_options, farm_target, waiting
from edgekit.cli.support import INFERRING, boards_dirs_option, custom_objects_option, json_option, print_json
from edgekit.console import out, progress_bar
from edgekit.model.metrics import TASKS

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.hil.harness import HilResult


@click.command()
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--board", "board_id", help="Board id [default: the project's].")
@click.option("--port", help="Serial port or URL [default: virtual board started here, else found by USB id].")
@click.option("--data", "data_path", type=click.Path(path_type=Path),
              help="Test .npz [default: the model's test split].")
@click.option("--samples", type=click.IntRange(min=1),
              help="Use N test inputs: a seeded draw (the same every run), stratified by class when there are labels.")
@click.option("--task", type=click.Choice(TASKS), help="Task for the metric [default: the project's, else inferred].")
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
@click.option("--cycles", is_flag=True,
              help="Also estimate Cortex-M4 cycles of one invoke, per op type, on the virtual board (one more, "
                   "traced run; Cortex-M4 TRM timings).")
@click.option("--flash-wait-states", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --cycles: wait states each pipeline refill adds (0: the flash cache hits).")
@farm_options
@click.option("--boards", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --farm/--tags: spread the test inputs over this many places and merge the report.")
@boards_dirs_option
@json_option
@custom_objects_option
def hil(project_dir: Path, board_id: str | None, port: str | None, data_path: Path | None, samples: int | None,
        task: str | None, runs: int, warmup: int, report_dir: Path | None, junit: Path | None,
        min_accuracy: float | None, max_latency_ms: float | None, require_exact: bool, profile: bool,
        cycles: bool, flash_wait_states: int, place: str | None, farm: str | None, tags: tuple[str, ...],
        farm_timeout: float, no_flash: bool,
        boards: int, boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Validate a project on its board: accuracy, agreement with the host reference, latency."""
    from edgekit.errors import GateFailed, UsageError
    from edgekit.hil.evaluate import Gates
    from edgekit.hil.harness import HilOptions, run_hil
    from edgekit.hil.report import console_tables
    from edgekit.project.manifest import open_project

    project = open_project(project_dir, boards_dirs=boards_dirs, board_id=board_id)
    opts = HilOptions(port=port, data=data_path, max_samples=samples, task=task, bench_runs=runs, warmup=warmup,
                      report_dir=report_dir, junit=junit, gates=Gates(min_accuracy, max_latency_ms, require_exact),
                      profile=profile)
    target = farm_target(place, farm, tags, farm_timeout, port)
    if target is None and boards > 1:
        raise UsageError(f"--boards {boards} spreads a run over a farm's places", hint="add --farm/--tags")
    if cycles:
        from edgekit.hil.cycles import require_estimable

        require_estimable(project.board)
        if target is not None or port is not None:
            raise UsageError("--cycles runs its own virtual board", hint="drop --port/--farm")
    with progress_bar(INFERRING) as on_progress:
        if target is None:
            result = run_hil(project, options=opts, on_progress=on_progress)
        else:
            from edgekit.farm.scaleout import FarmRun, run_hil_farm

            result = run_hil_farm(project, FarmRun(target, boards, not no_flash), options=opts,
                                  on_progress=on_progress, on_wait=waiting)
    estimate = None
    if cycles:
        from edgekit.hil.cycles import estimate_invoke, random_input
        from edgekit.sim.cycles import Timing

        estimate = estimate_invoke(project.board, project.built_elf(), project.graph, random_input(project.graph),
                                   timing=Timing(flash_wait_states=flash_wait_states))
    if as_json:
        print_json({**hil_dict(result), **({"cycle_estimate": estimate.to_dict()} if estimate else {})})
    else:
        for table in console_tables(result.report):
            out.print(table)
        for gate in result.report.gates or []:
            out.print(("[green]pass[/] " if gate.passed else "[red]FAIL[/] ") + f"{gate.name}: {gate.message}")
        if estimate:
            from edgekit.hil.cycles import cycles_table

            out.print(cycles_table(estimate))
        out.print(f"report: {', '.join(str(p) for p in result.paths)}")
    if not result.gates_passed:
        raise GateFailed("; ".join(result.failed_gates))


def hil_dict(r: HilResult) -> dict[str, Any]:
    """`edgekit hil --json`: report.json's content, the files written and whether the gates passed."""
    return {**r.report.to_dict(), "files": [str(p) for p in r.paths], "gates_passed": r.gates_passed}
