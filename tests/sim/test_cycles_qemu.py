"""The cycle estimator against micro-kernels counted by hand from the Cortex-M4 TRM: one tiny
image (tests/sim/kernels.S) built with arm-none-eabi-gcc and run once in QEMU with its log on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from edgekit.sim.cycles import Segment, Timing, count_by_function

pytestmark = [pytest.mark.toolchain, pytest.mark.qemu, pytest.mark.timeout(120)]

HERE = Path(__file__).parent
N = 100        # passes of every loop (kernels.S)
REFILL = 2     # Timing's default pipeline refill
# Cycles per pass of each kernel's loop body without its loop branch (kernels.S's comments)
BODY = {"k_alu": 4, "k_ldr": 5, "k_ldr_use": 6, "k_smlad": 4, "k_branch": 1 + REFILL, "k_ldm": 5, "k_vfp": 8}


def by_hand(body: int) -> int:
    """A kernel's cycles: the refill of the BL into it, MOVS, N passes of the body, SUBS and BNE
    (taken N-1 times), and BX (whose refill is charged to the caller)."""
    return REFILL + 1 + N * (body + 1 + 1) + (N - 1) * REFILL + 1


@pytest.fixture(scope="module")
def per_kernel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Segment]:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")
    tmp = tmp_path_factory.mktemp("kernels")
    elf, log = tmp / "kernels.elf", tmp / "qemu.log"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-nostartfiles",
                    "-Wl,-Ttext=0x08000000", "-Wl,-e,reset", str(HERE / "kernels.S"), "-o", str(elf)], check=True)
    subprocess.run(["qemu-system-arm", "-M", "netduinoplus2", "-icount", "shift=0", "-nographic", "-monitor", "none",
                    "-serial", "null", "-semihosting-config", "enable=on,target=native",
                    "-d", "in_asm,exec,nochain", "-D", str(log), "-kernel", str(elf)], check=True, timeout=60)
    return count_by_function(log.read_text().splitlines(), Timing())


@pytest.mark.parametrize("kernel", sorted(BODY))
def test_estimate_equals_the_hand_count(per_kernel: dict[str, Segment], kernel: str) -> None:
    seg = per_kernel[kernel]
    assert seg.instructions == 1 + N * (len_body(kernel) + 2) + 1
    assert seg.refills == 1 + (N - 1) + (N if kernel == "k_branch" else 0)   # k_branch's B: N more
    assert seg.cycles == by_hand(BODY[kernel])


def len_body(kernel: str) -> int:
    """Instructions in a kernel's loop body without SUBS and BNE (k_branch skips its NOP)."""
    return {"k_branch": 1}.get(kernel, 1 if kernel == "k_ldm" else 4)
