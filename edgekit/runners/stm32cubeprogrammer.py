"""ST's STM32CubeProgrammer command line (STM32_Programmer_CLI)."""

from __future__ import annotations

from edgekit.runners.core import FlashImage, FlashRunner


class Stm32CubeProgrammerRunner(FlashRunner):
    """Flashes, verifies and resets with ST's STM32_Programmer_CLI."""

    name = "stm32cubeprogrammer"
    capabilities = frozenset({"flash", "reset", "verify"})
    tools = ("STM32_Programmer_CLI",)

    def flash(self, image: FlashImage) -> None:
        """`STM32_Programmer_CLI ARGS -w ELF -v -rst` (ARGS: the board's `-c port=SWD ...` connection)."""
        elf = image.require_file(image.elf)
        self.executor.run([self.require("STM32_Programmer_CLI"), *self.args, "-w", str(elf), "-v", "-rst"],
                          what="STM32CubeProgrammer flash")
