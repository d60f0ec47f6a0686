"""Virtual boards: a firmware in an emulator behind a pty (edgekit.sim.qemu), started in the
background (edgekit.sim.background), and a fault-injecting link proxy for tests (faultproxy)."""
