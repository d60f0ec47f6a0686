"""The contract of a board family, and the field readers its checks share.

A family (STM32, ESP32, RISC-V) turns a board file into everything its firmware needs: it
validates the board, gives the templates their family context, says which tools build the
project and how, where the image lands, how to read the image's memory use, how its virtual
boards run, and how TensorFlow Lite Micro reaches its firmware.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from edgekit.boards.schema import Board, field_error
from edgekit.errors import BoardError, UsageError
from edgekit.project.size import SizeReport
from edgekit.resources import data_dir

_C_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STM32_PIN = re.compile(r"P([A-K])([0-9]{1,2})")
#: What QEMU prints once the board's first serial port is on a pty; group 1 is its path.
QEMU_PTY_LINE = re.compile(r"char device redirected to (\S+) \(label serial0\)")
# How every QEMU virtual board runs: console on a pty, semihosting for host time and the exit code.
QEMU_FLAGS = ("-nographic", "-monitor", "none", "-serial", "pty", "-semihosting-config", "enable=on,target=native")


@dataclass(frozen=True)
class TflmSupport:
    """How TensorFlow Lite Micro reaches a family's firmware: built from a TFLM source tree the
    user gives (`--tflm-dir`), brought by the family's own build system ("component", named by
    `label`), or not at all (`why_not` says why)."""

    source: Literal["tree", "component", "none"]
    label: str = ""
    why_not: str = ""


@dataclass(frozen=True)
class CrossBuild:
    """How a family cross-compiles, for a library built outside the project (the TFLM cache):
    the project's CMake toolchain file (relative path), the CPU flags, and the C++ compiler
    with the environment variable that may name its root directory."""

    toolchain_file: str
    cpu_flags: tuple[str, ...]
    cxx: str
    root_env: str = ""


class BoardFamily(ABC):
    """One MCU family: validation, template context, build, size reading, virtual boards."""

    name: ClassVar[str]           # board files' `family`
    title: ClassVar[str]          # how messages name it ("STM32")
    source_dir: ClassVar[str]     # where the project's sources go ("src", ESP-IDF's "main")
    tools: ClassVar[tuple[str, ...]]   # edgekit.tools names the build needs
    tflm: ClassVar[TflmSupport]
    qemu: ClassVar[str | None] = None   # the QEMU system emulator of this family's virtual boards
    pty_line: ClassVar[re.Pattern[str]] = QEMU_PTY_LINE   # the virtual board's "my console is PTY" line

    @property
    def template_dir(self) -> Path:
        """The family's firmware templates: firmware_templates/<name>/."""
        return data_dir("firmware_templates") / self.name

    def validate(self, board: Board) -> None:
        """BoardError naming file and field for anything this family cannot build from.

        Deriving the template context is the check: a board that validates renders.
        """
        for i, sensor in enumerate(board.sensors):
            if not _C_IDENT.match(sensor.id):
                raise board_error(board, f"sensors[{i}].id", f"is '{sensor.id}', not a C identifier "
                                  "(letters, digits and '_', not starting with a digit)")
        self.render_context(board)

    @abstractmethod
    def render_context(self, board: Board) -> dict[str, Any]:
        """What the family's templates get under the family's name; BoardError when invalid."""

    @abstractmethod
    def build_commands(self, project_dir: Path, build_dir: Path, *, jobs: int = 2,
                       defines: Mapping[str, str] | None = None) -> list[list[str]]:
        """The commands, in order, that build `project_dir` into `build_dir`; `defines` are
        CMake cache entries a runtime's build needs (the TFLM tree and library)."""

    @abstractmethod
    def elf_path(self, build_dir: Path) -> Path:
        """Where the build leaves the firmware image (it may not exist yet)."""

    @abstractmethod
    def read_size(self, elf: Path, board: Board) -> SizeReport:
        """Flash and RAM use of a linked image against the board's regions."""

    def cross_build(self, board: Board) -> CrossBuild:
        """How this family cross-compiles for `board` (families with TFLM from a tree)."""
        raise UsageError(f"{self.title} firmware does not build TFLM from a source tree")

    def virtual_board_argv(self, board: Board, elf: Path) -> list[str]:
        """The command that runs `elf` as the virtual `board`: QEMU with the machine arguments
        of the board's "qemu" runner; UsageError for a board that is not virtual."""
        runner = next((r for r in board.runners if r.name == "qemu"), None)
        if not board.virtual or runner is None or self.qemu is None:
            raise UsageError(f"board '{board.id}' is not a virtual board (no 'qemu' runner)",
                             hint="use a board with virtual = true, e.g. qemu-netduinoplus2")
        return [self.qemu, *runner.args, *QEMU_FLAGS, "-kernel", str(elf)]


# --------------------------------------------------------------------------- field readers
def board_error(board: Board, field: str, why: str) -> BoardError:
    """The board-file error for `field` of `board` (file and field named)."""
    return field_error(board.source, field, why)


def int_field(board: Board, table: Mapping[str, Any], key: str, where: str,
              default: Any = ..., allowed: Sequence[int] | None = None) -> int:
    """Integer `key` of `table` (named `where + key` in errors); `default` when absent, if given."""
    if key not in table:
        if default is ...:
            raise board_error(board, f"{where}{key}", "is missing")
        return int(default)
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise board_error(board, f"{where}{key}", "must be an integer")
    if allowed is not None and value not in allowed:
        raise board_error(board, f"{where}{key}", f"is {value}, expected one of "
                          f"{', '.join(map(str, allowed))}")
    return value


def stm32_pin(board: Board, field: str, value: Any, example: str) -> dict[str, int | str]:
    """An STM32 pin name ('PA2') as port letter, port index and pin number."""
    if value is None:
        raise board_error(board, field, f"is missing (a pin like '{example}')")
    m = _STM32_PIN.fullmatch(value if isinstance(value, str) else "")
    if not m or int(m.group(2)) > 15:
        raise board_error(board, field, f"is {value!r}, expected a pin like '{example}'")
    return {"name": value, "port": m.group(1), "port_index": ord(m.group(1)) - ord("A"),
            "pin": int(m.group(2))}


__all__ = ["BoardFamily", "CrossBuild", "TflmSupport", "QEMU_FLAGS", "QEMU_PTY_LINE", "board_error", "int_field",
           "stm32_pin"]
