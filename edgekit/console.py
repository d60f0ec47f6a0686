"""One rich console for results (stdout) and one for progress and errors (stderr).

In a terminal, tables fit its width; piped or redirected, nothing is wrapped or cut: lines
come out whole (a printed command is one line that can be pasted and run) and tables take
their natural width. Progress displays are shown only on a terminal, and leave no line
behind.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table

# Width given to a console whose stream is not a terminal: tables render at their natural
# width (they never expand to it) and text is never wrapped (soft_wrap).
PIPE_WIDTH = 100_000


class _Console(Console):
    """A console whose tables never cut a cell: in a narrow terminal a column folds its text
    onto more lines instead of ending it in "…" (an op name, an id or a number stays whole)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        for obj in objects:
            if isinstance(obj, Table):
                for column in obj.columns:
                    if column.overflow == "ellipsis":
                        column.overflow = "fold"
        super().print(*objects, **kwargs)


def _console(*, stderr: bool) -> Console:
    console = _Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
        console.soft_wrap = True
    return console


out = _console(stderr=False)
err = _console(stderr=True)


def print_command(line: str) -> None:
    """A command line on stdout as one line, never wrapped or styled, whatever the width."""
    out.print(line, markup=False, highlight=False, soft_wrap=True, crop=False)


@contextmanager
def step(message: str) -> Iterator[Callable[[str], None]]:
    """Show a spinner on stderr while a long step runs, then a done line. Yields `note(text)`,
    which shows how far the step got beside the message ("TFLM library 120/380")."""
    if err.is_interactive:
        with err.status(f"{message}...") as status:
            yield lambda text: status.update(f"{message}: {text}")
    else:
        yield lambda text: None
    err.print(f"[green]done[/] {message}")


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A transient progress bar on stderr; yields its update callback `(done, total)`.

    The bar starts at the first update (so a caller can hand the callback to a long pipeline
    and the bar appears only for the part that reports progress). Off a terminal nothing is
    drawn: rich would leave an empty line there, in front of an error message.
    """
    if not err.is_interactive:
        yield lambda i, n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    progress = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=err, transient=True)
    task = progress.add_task(description, total=None)

    def update(i: int, n: int) -> None:
        if not progress.live.is_started:
            progress.start()
        progress.update(task, completed=i, total=n)
        if n and i >= n:
            progress.stop()

    try:
        yield update
    finally:
        progress.stop()


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence C/C++ writes to stderr (TensorFlow, TFLM and the converter log there
    regardless of TF_CPP_MIN_LOG_LEVEL); Python exceptions still carry the real errors."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
