"""`edgekit compare`: one model on each runtime variant on one board (edgekit.compare.run)."""

from __future__ import annotations

from pathlib import Path

import click

from edgekit.cli.support import boards_dirs_option, json_option, optimize_option, print_json
from edgekit.console import out, step

DEFAULT_RUNTIMES = "edgekit-rt,tflm"


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--board", "board_id", required=True, help="Board id (edgekit boards); a virtual board runs in QEMU.")
@click.option("--runtimes", default=DEFAULT_RUNTIMES, show_default=True,
              help="Comma-separated runtimes to compare; tflm runs once per TFLM tree.")
@click.option("--tflm-dir", "tflm_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="TFLM source tree (create_tflm_tree.py), repeatable: one tflm row per tree, labelled by its "
                   "kernels [default: $TFLM_DIR; none: edgekit-rt only]. A path that is no tree: exit 4.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory: a project per runtime, compare.json/.md/.png [default: out/compare-MODEL].")
@click.option("--data", "data_path", type=click.Path(path_type=Path),
              help="Test .npz [default: data.npz beside the model, else random inputs over the int8 range].")
@click.option("--samples", type=click.IntRange(min=1), default=20, show_default=True,
              help="Test inputs sent to each runtime (agreement with the host reference).")
@click.option("--runs", type=click.IntRange(min=1), default=10, show_default=True, help="Timed runs for the latency.")
@click.option("--profile/--no-profile", default=True, show_default=True,
              help="Profile one invoke per op on each runtime and show the profiles side by side.")
@click.option("--cycles", is_flag=True,
              help="Virtual board: also estimate each runtime's Cortex-M4 cycles of one invoke (one more, traced "
                   "run; Cortex-M4 TRM timings).")
@click.option("--flash-wait-states", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --cycles: wait states each pipeline refill adds (0: the flash cache hits).")
@click.option("--port", help="Serial port of a physical board [default: found by USB id].")
@click.option("--runner", help="Flash runner for a physical board [default: the board's first installed one].")
@optimize_option
@boards_dirs_option
@json_option
def compare(model: Path, board_id: str, runtimes: str, tflm_dirs: tuple[Path, ...], out_dir: Path | None,
            data_path: Path | None, samples: int, runs: int, profile: bool, cycles: bool, flash_wait_states: int,
            port: str | None, runner: str | None, optimize: str | None,
            boards_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Generate, build and run MODEL (int8 .tflite) with each runtime on a board, side by side.

    \b
    One row per runtime: exactness against the host TFLM reference, latency p50 (cycles;
    instructions on the virtual board), arena, flash, RAM, their ratio to edgekit-rt, first
    and no-op build times. Exit 1 when a runtime failed or was not exact.
    """
    from edgekit.boards import load_board
    from edgekit.compare.report import comparison_dict, print_comparison
    from edgekit.compare.run import compare_runtimes
    from edgekit.errors import GateFailed
    from edgekit.sim.cycles import Timing

    board = load_board(board_id, boards_dirs)
    names = [n.strip() for n in runtimes.split(",") if n.strip()]
    result = compare_runtimes(model, board, out_dir or Path("out") / f"compare-{Path(model).stem}",
                              runtimes=names, tflm_dirs=tflm_dirs, data=data_path, samples=samples, runs=runs,
                              profile=profile, port=port, runner=runner, step=step,
                              cycles=Timing(flash_wait_states=flash_wait_states) if cycles else None,
                              optimize=optimize)
    if as_json:
        print_json(comparison_dict(result))
    else:
        print_comparison(result, out)
    if result.problems:
        raise GateFailed("; ".join(result.problems))
