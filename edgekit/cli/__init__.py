"""The `edgekit` command: one module per command, each a thin wrapper over one library function
with its console view and JSON beside it; this module registers them (one line each)."""

from __future__ import annotations

import click

from edgekit import __version__
from edgekit.cli.boards import boards
from edgekit.cli.build import build
from edgekit.cli.compare import compare
from edgekit.cli.complete import complete
from edgekit.cli.compress import compress
from edgekit.cli.deploy import deploy
from edgekit.cli.doctor import doctor
from edgekit.cli.evaluate import evaluate
from edgekit.cli.farm import farm
from edgekit.cli.flash import flash
from edgekit.cli.generate import generate
from edgekit.cli.hil import hil
from edgekit.cli.inspect import inspect
from edgekit.cli.quantize import quantize
from edgekit.cli.sim import sim
from edgekit.cli.stream import stream
from edgekit.cli.support import EXIT_INTERNAL, run_main
from edgekit.cli.train import train

__all__ = ["EXIT_INTERNAL", "cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgekit")
def cli() -> None:
    """edgekit: from a Keras model to a validated STM32 or ESP32 board.

    \b
    Exit codes: 0 ok, 1 a gate failed, 2 bad input or usage, 3 device error,
    4 missing tool, 70 internal error.
    """


# In the order of the pipeline, then the tools around it.
for command in (train, quantize, evaluate, inspect, compress, generate, build, flash, sim, hil, stream, complete,
                deploy, compare, boards, doctor, farm):
    cli.add_command(command)


def main() -> None:
    """Entry point: expected errors become one line on stderr and a documented exit code."""
    run_main(cli)
