"""Board families as objects: one registry of what each MCU family needs.

    family = family_of(board)          # the board file's family: stm32, esp32, riscv
    family.validate(board)             # BoardError naming file and field
    family.render_context(board)       # templates get it under family.name
    family.build_commands(project_dir, build_dir, defines=...)
    family.elf_path(build_dir); family.read_size(elf, board)
    family.tflm                        # how TFLM reaches it: a source tree, a component, or not at all
    family.virtual_board_argv(board, elf)

Board files name their family; `edgekit.boards` accepts exactly the names registered here and
validates every board through its family on load. Adding a family = a module with a
:class:`BoardFamily` subclass, an entry in :data:`FAMILIES` and firmware_templates/<name>/.
"""

from __future__ import annotations

from edgekit.boards.schema import Board
from edgekit.errors import BoardError
from edgekit.project.families.base import BoardFamily, CrossBuild, TflmSupport
from edgekit.project.families.esp32 import Esp32Family, esp32_context
from edgekit.project.families.riscv import RiscvFamily, riscv_context
from edgekit.project.families.stm32 import Stm32Family, stm32_context

FAMILIES: dict[str, BoardFamily] = {f.name: f for f in (Stm32Family(), Esp32Family(), RiscvFamily())}


def family_of(board: Board) -> BoardFamily:
    """The family of `board`; BoardError for a family edgekit has no templates for."""
    try:
        return FAMILIES[board.family]
    except KeyError:
        raise BoardError(f"board '{board.id}' ({board.source}): no firmware templates for family "
                         f"'{board.family}'", hint=f"known families: {', '.join(FAMILIES)}") from None


__all__ = ["BoardFamily", "CrossBuild", "TflmSupport", "FAMILIES", "family_of", "stm32_context", "esp32_context",
           "riscv_context"]
