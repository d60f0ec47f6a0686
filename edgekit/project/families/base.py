"""The contract of a board family, and the field readers its checks share.

A family (STM32, ESP32) turns a board file into everything its firmware needs: it validates
the board, gives the templates their family context, says which tools build the project and
how, where the image lands, and how to read the image's memory use.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgekit.boards import Board, field_error
from edgekit.errors import BoardError
from edgekit.project.size import SizeReport

_C_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STM32_PIN = re.compile(r"P([A-K])([0-9]{1,2})")


class BoardFamily(ABC):
    """One MCU family: validation, template context, build and size reading."""

    name: str            # board files' `family` and the firmware_templates/ subdirectory
    title: str           # how messages name it ("STM32")
    source_dir: str      # where the project's sources go ("src", ESP-IDF's "main")
    tools: tuple[str, ...]   # edgekit.tools names the build needs

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
    def build_commands(self, project_dir: Path, build_dir: Path, tflm_dir: Path | None = None,
                       *, jobs: int = 2, tflm_lib: Path | None = None) -> list[list[str]]:
        """The commands, in order, that build `project_dir` into `build_dir`; `tflm_lib`
        is a prebuilt TFLM library for tflm projects (families that build TFLM themselves ignore it)."""

    @abstractmethod
    def elf_path(self, build_dir: Path) -> Path:
        """Where the build leaves the firmware image (it may not exist yet)."""

    @abstractmethod
    def read_size(self, elf: Path, board: Board) -> SizeReport:
        """Flash and RAM use of a linked image against the board's regions."""


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


__all__ = ["BoardFamily", "board_error", "int_field", "stm32_pin"]
