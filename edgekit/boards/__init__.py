"""Boards are data: one TOML file per board, validated on load.

Search path, first match wins: --boards-dir directories, then $EDGEKIT_BOARDS_DIR
(os.pathsep-separated), then ~/.config/edgekit/boards, then the boards shipped with edgekit.

Loading checks the schema (:mod:`edgekit.boards.schema`), then that the board's family and
runners are registered ones, then asks the family (:mod:`edgekit.project.families`) to
validate what its firmware derives from the file (clock tree, console, pins, sensors), so a
board that loads is a board that generates.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from edgekit.boards.schema import (
    CORES,
    CYCLE_COUNTERS,
    Board,
    MemoryRegion,
    Runner,
    Sensor,
    field_error,
    read_board_file,
)
from edgekit.errors import BoardError
from edgekit.resources import data_dir

USER_BOARDS_DIR = Path.home() / ".config" / "edgekit" / "boards"
BOARDS_ENV = "EDGEKIT_BOARDS_DIR"
DEFAULT_BOARD = "qemu-netduinoplus2"


def parse_board(path: Path) -> Board:
    """Load and validate one board file: the schema, then its family's checks."""
    # The registries are imported here, not at the top: the family and runner modules import
    # edgekit.boards.schema, and importing that module runs this package's __init__ first.
    from edgekit.project.families import FAMILIES, family_of
    from edgekit.runners import RUNNERS

    board = read_board_file(path, families=tuple(FAMILIES), runner_names=tuple(RUNNERS))
    family_of(board).validate(board)
    return board
def search_path(extra_dirs: Iterable[Path] = ()) -> list[Path]:
    """Directories searched for board files, highest priority first."""
    dirs = [Path(d) for d in extra_dirs]
    env = os.environ.get(BOARDS_ENV)
    if env:
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs.append(USER_BOARDS_DIR)
    dirs.append(data_dir("boards"))
    return dirs


def _board_files(extra_dirs: Iterable[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory in search_path(extra_dirs):
        if not directory.is_dir():
            continue
        for f in sorted(directory.glob("*.toml")):
            found.setdefault(f.stem, f)
    return found


def list_boards(extra_dirs: Iterable[Path] = ()) -> list[Board]:
    """Every board on the search path, validated, sorted by id."""
    return [parse_board(p) for _, p in sorted(_board_files(extra_dirs).items())]


def load_board(board_id: str, extra_dirs: Iterable[Path] = ()) -> Board:
    """The board with this id; a clear error listing the known ids when there is none."""
    files = _board_files(extra_dirs)
    if board_id not in files:
        known = ", ".join(sorted(files)) or "none"
        raise BoardError(
            f"unknown board '{board_id}'",
            hint=f"known boards: {known}; add one with --boards-dir or ${BOARDS_ENV}",
        )
    return parse_board(files[board_id])


__all__ = ["Board", "MemoryRegion", "Runner", "Sensor", "CORES", "CYCLE_COUNTERS", "DEFAULT_BOARD", "BOARDS_ENV",
           "USER_BOARDS_DIR", "field_error", "list_boards", "load_board", "parse_board", "search_path"]
