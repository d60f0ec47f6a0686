"""Virtual boards: the STM32 firmware in QEMU behind a pty (see edgekit.sim.qemu)."""

from edgekit.sim.qemu import QemuBoard

__all__ = ["QemuBoard"]
