"""The registered runtimes, in order of preference: the CLI's --runtime choices, generate,
inspect, compare and compress all read this one registry. Adding a runtime = a module with a
:class:`~edgekit.runtimes.base.Runtime` subclass and one line in :data:`RUNTIMES`.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekit.boards import Board
from edgekit.errors import MissingToolError, ModelError, UsageError
from edgekit.model.tflite_graph import Graph
from edgekit.runtimes import AUTO, EDGEKIT_RT
from edgekit.runtimes.base import Lack, Runtime, RuntimeOptions
from edgekit.runtimes.edgekit_rt import EdgekitRt
from edgekit.runtimes.tflm import Tflm

RUNTIMES: dict[str, Runtime] = {r.name: r for r in (EdgekitRt(), Tflm())}
DEFAULT_RUNTIME = EDGEKIT_RT      # what a project renders with when nobody chose
DEFAULT_CHOICE = AUTO             # --runtime's default (generate, deploy, compress)


def runtime_choices() -> tuple[str, ...]:
    """--runtime's values: "auto" and every registered runtime."""
    return (AUTO, *RUNTIMES)


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime a model will use, and why (empty when it was asked for by name or is the first choice)."""

    runtime: Runtime
    reason: str = ""

    @property
    def name(self) -> str:
        """The chosen runtime's name."""
        return self.runtime.name


def get_runtime(name: str) -> Runtime:
    """The runtime called `name` (not "auto": see choose_runtime); UsageError listing the known ones otherwise."""
    try:
        return RUNTIMES[name]
    except KeyError:
        raise UsageError(f"unknown runtime '{name}'", hint=f"use one of: {', '.join(RUNTIMES)}") from None


def first_runtime(graph: Graph) -> Runtime:
    """The runtime "auto" would pick on a board that every runtime can build for."""
    return next((rt for rt in RUNTIMES.values() if not rt.gaps(graph)), next(iter(RUNTIMES.values())))


def choose_runtime(graph: Graph, requested: str, board: Board, options: RuntimeOptions) -> RuntimeChoice:
    """`requested` (a runtime name or "auto") resolved for `graph` on `board`.

    A runtime asked for by name is checked against the board's family only (what it needs can
    still come at build time). auto: the first registered runtime that runs every op and has
    what it needs for the board, with a one-line reason naming what ruled out the ones before
    it; ModelError naming them when none can.
    """
    if requested != AUTO:
        rt = get_runtime(requested)
        why = rt.refuses(board)
        if why:
            others = [name for name, other in RUNTIMES.items() if not other.refuses(board)]
            raise MissingToolError(why, hint=f"use --runtime {' or '.join(others)}" if others else None)
        return RuntimeChoice(rt)
    # What each runtime lacks for this board first: a broken TFLM tree is an error even when
    # another runtime ends up chosen.
    lacks: dict[str, Lack | None] = {}
    for name, rt in RUNTIMES.items():
        refused = rt.refuses(board)
        lacks[name] = Lack(refused) if refused else rt.missing(board, options)
    passed: list[str] = []       # why each runtime before the chosen one was passed over
    unsupported: list[str] = []  # the part of it that is about ops
    needed: tuple[str, Lack] | None = None   # the first runtime that runs the model but lacks something here
    for name, rt in RUNTIMES.items():
        gaps, lack = rt.gaps(graph), lacks[name]
        if gaps:
            unsupported.append(f"{name} does not support {', '.join(gaps)}")
            passed.append(unsupported[-1])
        elif lack:
            needed = needed or (name, lack)
            passed.append(f"{name}: {lack.why}")
        else:
            return RuntimeChoice(rt, f"runtime {name} (auto): {'; '.join(passed)}" if passed else "")
    if needed is None:
        raise ModelError(f"no runtime can run this model: {'; '.join(passed)}")
    name, lack = needed
    if unsupported:
        raise ModelError(f"this model needs runtime {name}: {'; '.join(unsupported)}, and {lack.why}", hint=lack.hint)
    raise ModelError(f"runtime {name} cannot be used on {board.id}: {lack.why}", hint=lack.hint)


__all__ = ["RUNTIMES", "DEFAULT_RUNTIME", "DEFAULT_CHOICE", "RuntimeChoice", "choose_runtime", "first_runtime",
           "get_runtime", "runtime_choices"]
