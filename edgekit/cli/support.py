"""What every `edgekit` subcommand shares: common options, JSON output, number formats, and how
the command's outcome becomes an exit code with one line on stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from edgekit.console import err
from edgekit.errors import EdgekitError, filesystem_error
from edgekit.runtimes import AUTO, EDGEKIT_RT, TFLM
from edgekit.runtimes.registry import DEFAULT_CHOICE, RUNTIMES, runtime_choices
from edgekit.runtimes.tflm.tree import TFLM_DIR_ENV

EXIT_INTERNAL = 70  # a bug in edgekit (not the user's input)
INFERRING = "inferring on the board"  # the progress bar of hil and deploy, from the first test input


def print_json(data: Any) -> None:
    """One JSON document on stdout (`--json`); nothing else goes to stdout then."""
    click.echo(json.dumps(data, indent=2, default=str))


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """The `--json` flag (parameter `as_json`)."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the result as JSON on stdout (progress and messages go to stderr).")(f)


def boards_dirs_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """The repeatable `--boards-dir` option (parameter `boards_dirs`)."""
    return click.option("--boards-dir", "boards_dirs", multiple=True,
                        type=click.Path(file_okay=False, path_type=Path),
                        help="Extra directory of board files (searched first; repeatable). "
                             "Also: $EDGEKIT_BOARDS_DIR.")(f)


class RuntimeName(click.Choice):
    """"auto" or a registered runtime, read from the registry when the command line is parsed."""

    def __init__(self) -> None:
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        """The registry's names, now."""
        return runtime_choices()

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        pass


def custom_objects_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """--custom-objects FILE.py|MODULE for a command that loads Keras models: kept in the
    environment, so that the processes edgekit starts (the converter's) load them too."""
    from edgekit.model.keras_io import CUSTOM_OBJECTS_ENV

    def remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value:
            os.environ[CUSTOM_OBJECTS_ENV] = value

    return click.option("--custom-objects", metavar="FILE.py|MODULE", expose_value=False, callback=remember,
                        help="Custom Keras layers and functions the model uses: a .py file or an importable "
                             "module (its CUSTOM_OBJECTS dict, else every class and function in it). It also lets "
                             "Lambda layers load: only for models whose code you trust.")(f)


def runtime_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--runtime` (parameter `runtime`) and `--tflm-dir` (parameter `tflm_dir`)."""
    f = tflm_dir_option("the TFLM source tree (create_tflm_tree.py) a tflm project builds with, on "
                        "families that build TFLM from source (STM32)")(f)
    return click.option("--runtime", type=RuntimeName(), default=DEFAULT_CHOICE, show_default=True,
                        help=f"{AUTO}: {EDGEKIT_RT} when it runs every op, else {TFLM}; "
                        + "; ".join(f"{r.name}: {r.summary}" for r in RUNTIMES.values()) + ".")(f)


def optimize_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--optimize` (parameter `optimize`): None when not given (chosen against the board's flash)."""
    from edgekit.runtimes.base import OPTIMIZE

    return click.option("--optimize", type=click.Choice(OPTIMIZE), default=None,
                        help="speed: faster kernels on more flash (edgekit-rt on Arm DSP cores: int16 dense weights, "
                             "2x their flash); size: the smallest code [default: speed on a DSP core when it "
                             "fits 75% of the board's flash, else size].")(f)


def tflm_dir_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--tflm-dir` (parameter `tflm_dir`); $TFLM_DIR is read where trees are resolved, not here."""
    return click.option("--tflm-dir", type=click.Path(file_okay=False, path_type=Path),
                        help=f"{what[:1].upper()}{what[1:]} [default: ${TFLM_DIR_ENV}].")


def kib(n: int | None) -> str:
    """Bytes as KiB with one decimal ("-" for None)."""
    return "-" if n is None else f"{n / 1024:,.1f} KiB"


def short_size(n: int) -> str:
    """Bytes in the shortest exact form: "1 MiB", "128 KiB", "1.5 KiB" or "100 B"."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} B"


def fmt_bytes(n: int | None) -> str:
    """Bytes with thousands separators ("-" for None)."""
    return "-" if n is None else f"{n:,}"


def fmt_metric(value: float | None) -> str:
    """A metric value with 4 decimals ("-" for None)."""
    return "-" if value is None else f"{value:.4f}"


def run_main(group: click.Group) -> None:
    """Run the command group: expected errors (usage errors included) become one line on
    stderr and a documented exit code; a bug is one line too unless EDGEKIT_DEBUG is set."""
    try:
        group.main(standalone_mode=False)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except EdgekitError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as exc:
        fault = filesystem_error(exc)   # the machine refused a file: not a bug
        if fault is None:
            _internal_error(exc)
        click.echo(f"error: {fault}", err=True)
        sys.exit(fault.exit_code)
    except Exception as exc:
        _internal_error(exc)


def _internal_error(exc: Exception) -> NoReturn:
    """A bug: one line by default, the traceback (of the exception being handled) on request."""
    if os.environ.get("EDGEKIT_DEBUG"):
        raise exc
    click.echo(f"internal error: {type(exc).__name__}: {exc} "
               "(a bug in edgekit; rerun with EDGEKIT_DEBUG=1 for the traceback and report it)", err=True)
    sys.exit(EXIT_INTERNAL)
