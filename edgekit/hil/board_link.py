"""Reach a board for a session: the port given, else the virtual board started here from the
project's ELF, else the port found by the board's USB ids."""

from __future__ import annotations

from contextlib import ExitStack

from edgekit.boards import Board
from edgekit.errors import UsageError
from edgekit.hil.ports import find_port
from edgekit.hil.session import Session
from edgekit.project.manifest import Project
from edgekit.sim.qemu import VirtualBoard


def open_session(stack: ExitStack, board: Board, *, port: str | None, project: Project | None,
                 baud: int | None = None) -> tuple[Session, VirtualBoard | None]:
    """A Session on the board's port, not yet connected (call connect(); its url names the
    port), closed with `stack`; and the VirtualBoard when this call started the virtual board
    (stopped with `stack` too), else None.

    The virtual board runs `project`'s built firmware (InputFileError when it was not built);
    a project generated for another board is a UsageError naming both.
    """
    if project is not None:
        project.require_board(board.id)
    qemu = None
    if port is None and board.virtual:
        if project is None:
            raise UsageError("the virtual board needs the project to run", hint="pass --project DIR")
        qemu = stack.enter_context(VirtualBoard.for_board(board, project.built_elf()))
        port = qemu.pty
    elif port is None:
        port = find_port(board)
    assert port is not None  # VirtualBoard.start() returned only once its pty was known
    session = Session(port, baudrate=baud or board.baud)
    stack.callback(session.close)
    return session, qemu


__all__ = ["open_session"]
