"""One virtual labgrid farm per test module: a real coordinator, exporter, ser2net and three QEMU
boards on 127.0.0.1 (edgekit.farm.virtual), stopped when the module ends, however it ends."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edgekit.farm.client import LabgridClient
from edgekit.farm.virtual import FarmConfig, FarmState, free_port, start_farm, stop_farm

BOARD = "qemu-netduinoplus2"
BOARDS = 3
LONG = 2000   # inputs: long enough to kill a board or press Ctrl-C mid-run, at about 8 ms a board


def sine_data(path: Path, n: int) -> Path:
    """`n` test inputs of the sine model with their labels."""
    x = np.random.default_rng(n).uniform(0, 6.28, (n, 1)).astype(np.float32)
    np.savez(path, x=x, y=np.sin(x))
    return path


@dataclass
class VirtualFarm:
    state: FarmState
    project: Path
    data: Path          # 300 inputs
    long_data: Path     # LONG inputs: long enough to kill a board or press Ctrl-C mid-run

    @property
    def address(self) -> str:
        return self.state.coordinator

    def held(self) -> dict[str, str | None]:
        """Place -> holder ("host/user") or None when free."""
        with LabgridClient(self.address) as client:
            return {p.name: p.acquired for p in client.places()}

    def hil(self, *args: str | Path) -> list[str | Path]:
        """`edgekit hil` arguments for the sine project on this farm."""
        return ["hil", self.project, "--farm", self.address, "--runs", "10", *args]


@pytest.fixture(scope="module")
def virtual_farm(tmp_path_factory: pytest.TempPathFactory, built_sine) -> Iterator[VirtualFarm]:
    pytest.importorskip("labgrid", reason="the farm tests need labgrid: pip install -e '.[farm]'")
    root = tmp_path_factory.mktemp("farm")
    project = built_sine(root / "fw")
    state_dir = root / "state"
    try:
        elf = str(project / "build" / "firmware.elf")   # boards boot with it; hil flashes them anyway
        state = start_farm(FarmConfig(BOARDS, BOARD, free_port(), elf), state_dir)
        yield VirtualFarm(state, project, sine_data(root / "sine.npz", 300), sine_data(root / "long.npz", LONG))
    finally:
        stop_farm(state_dir)
