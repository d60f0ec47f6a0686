"""Virtual boards: the STM32 firmware in QEMU behind a pty (see edgekit.sim.qemu)."""

from edgekit.sim.qemu import QemuBoard, run_qemu

__all__ = ["QemuBoard", "run_qemu"]
