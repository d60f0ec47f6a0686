"""The one contract every flash runner follows (after Zephyr west's runners).

A runner knows its name, what it can do, which programs it needs (`require` fails with an
install hint), and builds command lines; every command goes through one `Executor`, so
`--dry-run` prints the exact commands and tests capture them.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from edgekit.boards.schema import Board
from edgekit.errors import DeviceError, InputFileError, MissingToolError
from edgekit.tools import tool


@dataclass
class Executor:
    """Runs commands (or only prints them with dry_run); records each one."""

    dry_run: bool = False
    echo: Callable[[str], None] = print
    history: list[list[str]] = field(default_factory=list)

    def run(self, argv: Sequence[str], *, what: str) -> None:
        """Run `argv` (only echo it in dry runs); DeviceError naming `what` and its last output line on failure."""
        argv = [str(a) for a in argv]
        self.history.append(argv)
        self.echo(("would run: " if self.dry_run else "$ ") + shlex.join(argv))
        if self.dry_run:
            return
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()
            raise DeviceError(f"{what} failed (exit {proc.returncode}): {tail[-1] if tail else 'no output'}",
                              hint=f"command: {shlex.join(argv)}")

    def call(self, label: str, argv: Sequence[str], fn: Callable[[list[str]], object], *, what: str) -> None:
        """In-process tools (esptool): same recording and dry-run as commands."""
        argv = [str(a) for a in argv]
        self.history.append([label, *argv])
        self.echo(("would run: " if self.dry_run else "$ ") + shlex.join([label, *argv]))
        if self.dry_run:
            return
        try:
            fn(argv)
        except SystemExit as exc:  # esptool exits on errors
            if exc.code not in (0, None):
                raise DeviceError(f"{what} failed (exit {exc.code})",
                                  hint=f"command: {shlex.join([label, *argv])}") from None
        except Exception as exc:
            raise DeviceError(f"{what} failed: {exc}") from None


@dataclass(frozen=True)
class FlashImage:
    """What a build produced: the ELF, and for ESP-IDF its build directory (flasher_args.json)."""

    elf: Path
    build_dir: Path

    def require_file(self, path: Path) -> Path:
        """`path` if it is a file; InputFileError pointing to `edgekit build` otherwise."""
        if not path.is_file():
            raise InputFileError(f"firmware file not found: {path}", hint="run `edgekit build` first")
        return path


class FlashRunner(ABC):
    """One way to flash a board: name, capabilities, the tools it calls, and the board file's args for it."""

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset({"flash"})
    tools: ClassVar[tuple[str, ...]]  # names in edgekit.tools this runner calls

    @property
    def install_hint(self) -> str:
        """How to install every tool the runner needs (from the tools registry)."""
        return "; ".join(dict.fromkeys(tool(t).install for t in self.programs()))

    def __init__(self, board: Board, args: Sequence[str], executor: Executor, port: str | None = None) -> None:
        self.board = board
        self.args = list(args)  # from the board file: probe config, target name...
        self.executor = executor
        self.port = port

    def programs(self) -> tuple[str, ...]:
        """The programs this runner calls for its board (its `tools`)."""
        return self.tools

    def require(self, program: str) -> str:
        """Path of `program`, or a MissingToolError saying how to install it (not in dry runs)."""
        path = shutil.which(program)
        if path:
            return path
        if self.executor.dry_run:
            return program
        raise MissingToolError(f"runner '{self.name}' needs '{program}', which is not on PATH",
                               hint=tool(program).install)

    def available(self) -> bool:
        """Whether every program the runner needs is installed."""
        try:
            self.check_tools()
        except MissingToolError:
            return False
        return True

    def check_tools(self) -> None:
        """Raise MissingToolError when one of the runner's programs is missing."""
        for program in self.programs():
            self.require(program)

    @abstractmethod
    def flash(self, image: FlashImage) -> None:
        """Write the image to the board (and reset it so it runs)."""
