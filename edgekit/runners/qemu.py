"""The virtual board: nothing is written anywhere; QEMU loads the ELF when it starts."""

from __future__ import annotations

from edgekit.runners.core import FlashImage, FlashRunner


class QemuRunner(FlashRunner):
    name = "qemu"
    capabilities = frozenset({"flash"})
    install_hint = "sudo apt-get install -y qemu-system-arm"

    def check_tools(self) -> None:
        self.require("qemu-system-arm")

    def flash(self, image: FlashImage) -> None:
        image.require_file(image.elf)
        self.executor.echo(f"virtual board: {image.elf} is loaded by QEMU at start (`edgekit sim start` or `edgekit hil`)")
