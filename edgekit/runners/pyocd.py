"""pyOCD: CMSIS-DAP and ST-LINK probes, with the board's --target name."""

from __future__ import annotations

from edgekit.runners.core import FlashImage, FlashRunner


class PyOcdRunner(FlashRunner):
    name = "pyocd"
    capabilities = frozenset({"flash", "reset"})
    install_hint = "pip install pyocd"

    def check_tools(self) -> None:
        self.require("pyocd")

    def flash(self, image: FlashImage) -> None:
        elf = image.require_file(image.elf)
        self.executor.run([self.require("pyocd"), "flash", *self.args, "--format", "elf", str(elf)],
                          what="pyocd flash")
        self.executor.run([self.require("pyocd"), "reset", *self.args], what="pyocd reset")
