"""stlink-tools' st-flash: writes a raw binary at the flash origin, so the ELF is converted first."""

from __future__ import annotations

from edgekit.runners.core import FlashImage, FlashRunner


class StFlashRunner(FlashRunner):
    name = "st-flash"
    install_hint = "sudo apt-get install -y stlink-tools binutils-arm-none-eabi"

    def check_tools(self) -> None:
        self.require("st-flash")
        self.require("arm-none-eabi-objcopy")

    def flash(self, image: FlashImage) -> None:
        elf = image.require_file(image.elf)
        binary = elf.with_suffix(".bin")
        self.executor.run([self.require("arm-none-eabi-objcopy"), "-O", "binary", str(elf), str(binary)],
                          what="objcopy to .bin")
        self.executor.run([self.require("st-flash"), *self.args, "write", str(binary),
                           f"0x{self.board.flash.origin:08x}"], what="st-flash write")
