"""ST's STM32CubeProgrammer command line (STM32_Programmer_CLI)."""

from __future__ import annotations

from edgekit.runners.core import FlashImage, FlashRunner


class Stm32CubeProgrammerRunner(FlashRunner):
    name = "stm32cubeprogrammer"
    capabilities = frozenset({"flash", "reset", "verify"})
    install_hint = "install STM32CubeProgrammer from st.com and put STM32_Programmer_CLI on PATH"

    def check_tools(self) -> None:
        self.require("STM32_Programmer_CLI")

    def flash(self, image: FlashImage) -> None:
        elf = image.require_file(image.elf)
        self.executor.run([self.require("STM32_Programmer_CLI"), *self.args, "-w", str(elf), "-v", "-rst"],
                          what="STM32CubeProgrammer flash")
