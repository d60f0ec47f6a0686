"""Flash runners, one module each behind one contract (runners/core.py)."""

from __future__ import annotations

from edgekit.boards.schema import Board
from edgekit.errors import MissingToolError, UsageError
from edgekit.runners.core import Executor, FlashImage, FlashRunner
from edgekit.runners.esptool import EspToolRunner
from edgekit.runners.idf import IdfPyRunner
from edgekit.runners.openocd import OpenOcdRunner
from edgekit.runners.pyocd import PyOcdRunner
from edgekit.runners.qemu import QemuRunner
from edgekit.runners.stflash import StFlashRunner
from edgekit.runners.stm32cubeprogrammer import Stm32CubeProgrammerRunner

RUNNERS: dict[str, type[FlashRunner]] = {r.name: r for r in (
    OpenOcdRunner, PyOcdRunner, StFlashRunner, Stm32CubeProgrammerRunner, EspToolRunner, IdfPyRunner, QemuRunner)}


def make_runner(board: Board, name: str | None, executor: Executor, port: str | None = None) -> FlashRunner:
    """The named runner, or the board's first runner (in its order of preference) whose tools exist."""
    configured = {r.name: r for r in board.runners}
    if name is not None:
        if name not in configured:
            raise UsageError(f"board '{board.id}' has no runner '{name}'",
                             hint=f"its runners: {', '.join(configured)}")
        runner = RUNNERS[name](board, configured[name].args, executor, port)
        if not executor.dry_run:
            runner.check_tools()
        return runner
    candidates = [RUNNERS[r.name](board, r.args, executor, port) for r in board.runners]
    for runner in candidates:
        if executor.dry_run or runner.available():
            return runner
    hints = "; ".join(f"{r.name}: {r.install_hint}" for r in candidates)
    raise MissingToolError(f"no flash tool for board '{board.id}' is installed", hint=hints)


__all__ = ["RUNNERS", "Executor", "FlashImage", "FlashRunner", "make_runner"]
