"""What the bare-metal families built with CMake share: configure with the project's toolchain
file and Ninja, build, find ``firmware.elf``, classify its sections (STM32, RISC-V)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from edgekit.boards.schema import Board
from edgekit.project.families.base import BoardFamily
from edgekit.project.size import SizeReport, alloc_sections

ELF_FILE = "firmware.elf"   # what the projects' CMakeLists.txt links into the build directory


class CMakeFamily(BoardFamily):
    """A family whose projects are CMake + Ninja projects with a cross toolchain file."""

    toolchain_file: ClassVar[str]   # project-relative, rendered from the family's templates

    def build_commands(self, project_dir: Path, build_dir: Path, *, jobs: int = 2,
                       defines: Mapping[str, str] | None = None) -> list[list[str]]:
        """Configure with the project's toolchain file (Release) and `defines`, then build."""
        configure = ["cmake", "-G", "Ninja", "-S", str(project_dir), "-B", str(build_dir),
                     f"-DCMAKE_TOOLCHAIN_FILE={project_dir / self.toolchain_file}",
                     "-DCMAKE_BUILD_TYPE=Release"]
        configure += [f"-D{key}={value}" for key, value in (defines or {}).items()]
        return [configure, ["cmake", "--build", str(build_dir), "-j", str(jobs)]]

    def elf_path(self, build_dir: Path) -> Path:
        """The image the CMake project links: ``build_dir / ELF_FILE``."""
        return build_dir / ELF_FILE

    def read_size(self, elf: Path, board: Board) -> SizeReport:
        """Classify the ELF's allocated sections by name and flags into flash and RAM use."""
        text = rodata = data = bss = stack = 0
        sections: dict[str, int] = {}
        for sec in alloc_sections(elf):
            sections[sec.name] = sec.size
            if sec.name in (".stack", ".heap_stack") or sec.name.endswith(".stack"):
                stack += sec.size
            elif sec.nobits:
                bss += sec.size
            elif sec.writable:
                data += sec.size
            elif sec.executable or sec.name.startswith((".isr_vector", ".vectors")):
                text += sec.size
            else:
                rodata += sec.size
        return SizeReport(board=board.id, text=text, rodata=rodata, data=data, bss=bss, stack=stack,
                          flash_size=board.flash.size, ram_size=board.ram.size, sections=sections)


__all__ = ["CMakeFamily", "ELF_FILE"]
