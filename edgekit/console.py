"""One rich console for results (stdout) and one for progress and errors (stderr)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@contextmanager
def step(message: str) -> Iterator[None]:
    """Show a spinner on stderr while a long step runs, then a done line."""
    with err.status(f"{message}..."):
        yield
    err.print(f"[green]done[/] {message}")


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
