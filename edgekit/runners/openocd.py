"""OpenOCD: ST-LINK and most SWD probes, with the board's OpenOCD config (-f board/...cfg)."""

from __future__ import annotations

from edgekit.runners.core import FlashImage, FlashRunner


class OpenOcdRunner(FlashRunner):
    name = "openocd"
    capabilities = frozenset({"flash", "reset", "verify"})
    install_hint = "sudo apt-get install -y openocd"

    def check_tools(self) -> None:
        self.require("openocd")

    def flash(self, image: FlashImage) -> None:
        elf = image.require_file(image.elf)
        # "program" erases the needed sectors, writes, verifies, resets and exits in one session.
        self.executor.run([self.require("openocd"), *self.args, "-c", f"program {elf} verify reset exit"],
                          what="openocd flash")
