"""OpenOCD: ST-LINK and most SWD probes, with the board's OpenOCD config (-f board/...cfg)."""

from __future__ import annotations

from edgekit.runners.core import FlashImage, FlashRunner


class OpenOcdRunner(FlashRunner):
    """Flashes, verifies and resets through OpenOCD and the board's debug probe."""

    name = "openocd"
    capabilities = frozenset({"flash", "reset", "verify"})
    tools = ("openocd",)

    def flash(self, image: FlashImage) -> None:
        """`openocd ARGS -c "program ELF verify reset exit"` (ARGS: the board's `-f board/....cfg`)."""
        elf = image.require_file(image.elf)
        # "program" erases the needed sectors, writes, verifies, resets and exits in one session.
        self.executor.run([self.require("openocd"), *self.args, "-c", f"program {elf} verify reset exit"],
                          what="openocd flash")
