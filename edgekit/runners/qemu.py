"""The virtual board: nothing is written anywhere; QEMU loads the ELF when it starts."""

from __future__ import annotations

from edgekit.project.families import family_of
from edgekit.runners.core import FlashImage, FlashRunner


class QemuRunner(FlashRunner):
    """The virtual board's runner: nothing to write, QEMU loads the ELF when it starts."""

    name = "qemu"
    capabilities = frozenset({"flash"})
    tools = ()   # the emulator of the board's family (programs)

    def programs(self) -> tuple[str, ...]:
        """The QEMU system emulator of the board's family."""
        qemu = family_of(self.board).qemu
        return (qemu,) if qemu else ()

    def flash(self, image: FlashImage) -> None:
        """No command: checks the ELF exists and says QEMU loads it (`edgekit sim start` or `edgekit hil`)."""
        image.require_file(image.elf)
        self.executor.echo(f"virtual board: {image.elf} is loaded by QEMU at start "
                           "(`edgekit sim start` or `edgekit hil`)")
