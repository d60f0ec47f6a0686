"""Memory use of a linked firmware image, and the check that it fits its board.

Each board family classifies an ELF's allocated sections into text, rodata, data, bss and
stack (:meth:`~edgekit.project.families.base.BoardFamily.read_size`); flash = text + rodata +
data (the load image), RAM = data + bss + stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from edgekit.errors import FitError, InputFileError


@dataclass(frozen=True)
class SizeReport:
    """Memory use of a linked image against the board's regions (bytes)."""

    board: str
    text: int
    rodata: int
    data: int
    bss: int
    stack: int
    flash_size: int
    ram_size: int
    sections: dict[str, int] = field(default_factory=dict)

    @property
    def flash_used(self) -> int:
        """Bytes of flash: code, read-only data and the initial values of data."""
        return self.text + self.rodata + self.data

    @property
    def ram_used(self) -> int:
        """Bytes of RAM: data, bss and the stack reserve."""
        return self.data + self.bss + self.stack

    @property
    def fits(self) -> bool:
        """Both regions within the board's sizes."""
        return self.flash_used <= self.flash_size and self.ram_used <= self.ram_size

    def table(self) -> str:
        """A small plain-text table: region, used, size, percent."""
        rows = [("region", "used", "size", "use"),
                ("flash", f"{self.flash_used:,}", f"{self.flash_size:,}",
                 f"{100 * self.flash_used / self.flash_size:.1f}%"),
                ("ram", f"{self.ram_used:,}", f"{self.ram_size:,}",
                 f"{100 * self.ram_used / self.ram_size:.1f}%")]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                           enumerate(zip(r, widths))) for r in rows]
        lines.append(f"flash = text {self.text:,} + rodata {self.rodata:,} + data {self.data:,}; "
                     f"ram = data {self.data:,} + bss {self.bss:,} + stack {self.stack:,}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ElfSection:
    """An allocated, non-empty section of an ELF image."""

    name: str
    size: int
    nobits: bool        # occupies no file space (.bss and the like)
    writable: bool
    executable: bool


def alloc_sections(elf: Path) -> list[ElfSection]:
    """The allocated, non-empty sections of `elf`; InputFileError when it cannot be read."""
    try:
        with open(elf, "rb") as fh:
            out = []
            for sec in ELFFile(fh).iter_sections():
                flags = sec["sh_flags"]
                if not flags & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                    continue
                out.append(ElfSection(sec.name, int(sec["sh_size"]), sec["sh_type"] == "SHT_NOBITS",
                                      bool(flags & SH_FLAGS.SHF_WRITE),
                                      bool(flags & SH_FLAGS.SHF_EXECINSTR)))
            return out
    except (OSError, ELFError) as exc:
        raise InputFileError(f"cannot read ELF {elf}: {exc}") from None


def check_fit(size: SizeReport) -> None:
    """FitError naming the region that overflows and by how much."""
    for region, used, total in (("flash", size.flash_used, size.flash_size),
                                ("RAM", size.ram_used, size.ram_size)):
        if used > total:
            raise FitError(f"firmware for {size.board} does not fit: {region} needs {used:,} "
                           f"bytes, the board has {total:,} ({used - total:,} too many)",
                           hint="use a smaller model, a smaller stack, or a bigger board")


__all__ = ["SizeReport", "ElfSection", "alloc_sections", "check_fit"]
