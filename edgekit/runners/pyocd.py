"""pyOCD: CMSIS-DAP and ST-LINK probes, with the board's --target name."""

from __future__ import annotations

from edgekit.runners.core import FlashImage, FlashRunner


class PyOcdRunner(FlashRunner):
    """Flashes the ELF with pyOCD, then resets the target."""

    name = "pyocd"
    capabilities = frozenset({"flash", "reset"})
    tools = ("pyocd",)

    def flash(self, image: FlashImage) -> None:
        """`pyocd flash ARGS --format elf ELF`, then `pyocd reset ARGS` (ARGS: the board's `--target NAME`)."""
        elf = image.require_file(image.elf)
        self.executor.run([self.require("pyocd"), "flash", *self.args, "--format", "elf", str(elf)],
                          what="pyocd flash")
        self.executor.run([self.require("pyocd"), "reset", *self.args], what="pyocd reset")
