"""Board farms through labgrid: places found by name or tags, reserved and locked through labgrid's
coordinator (client), flashed through their resources (flash), validations spread over many places
(scaleout), and a virtual farm of QEMU boards on loopback for tests and users without boards
(virtual)."""
