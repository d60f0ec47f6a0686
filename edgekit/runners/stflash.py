"""stlink-tools' st-flash: writes a raw binary at the flash origin, so the ELF is converted first."""

from __future__ import annotations

from edgekit.runners.core import FlashImage, FlashRunner


class StFlashRunner(FlashRunner):
    """Flashes a raw binary with st-flash, converted from the ELF with arm-none-eabi-objcopy."""

    name = "st-flash"
    tools = ("st-flash", "arm-none-eabi-objcopy")

    def flash(self, image: FlashImage) -> None:
        """`arm-none-eabi-objcopy -O binary ELF BIN`, then `st-flash ARGS write BIN 0xFLASH_ORIGIN`."""
        elf = image.require_file(image.elf)
        binary = elf.with_suffix(".bin")
        self.executor.run([self.require("arm-none-eabi-objcopy"), "-O", "binary", str(elf), str(binary)],
                          what="objcopy to .bin")
        self.executor.run([self.require("st-flash"), *self.args, "write", str(binary),
                           f"0x{self.board.flash.origin:08x}"], what="st-flash write")
