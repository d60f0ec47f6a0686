"""What every `edgekit` subcommand shares: common options, JSON output, and how the command's
outcome becomes an exit code with one line on stderr (edgekit/cli.py holds the commands)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from edgekit.console import err
from edgekit.errors import EdgekitError

EXIT_INTERNAL = 70  # a bug in edgekit (not the user's input)


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
    except Exception as exc:  # a bug: one line by default, the traceback on request
        if os.environ.get("EDGEKIT_DEBUG"):
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc} "
                   "(a bug in edgekit; rerun with EDGEKIT_DEBUG=1 for the traceback and report it)", err=True)
        sys.exit(EXIT_INTERNAL)
