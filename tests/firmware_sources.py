"""Which firmware files each program the tests build from firmware_templates/ is made of.

One place for these lists: when a file of the portable core or of a port is split or added,
this module is the one edit. Tests compile these files directly with the host compiler (or
render them into a project), never cut pieces out of rendered templates.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "firmware_templates"
COMMON = TEMPLATES / "common"
HOST = TEMPLATES / "host"
STM32_SRC = TEMPLATES / "stm32" / "src"
FAKE_MODEL = REPO / "tests" / "fixtures" / "fake_model"

#: The protocol endpoint every port runs: framing, request dispatch, streaming engine, profiler.
CORE = ("ek_protocol.c", "ek_app.c", "ek_stream.c", "ek_profile.c")

#: Files of firmware_templates/common/ the STM32 port itself needs (beside ek_app.c and the
#: model): what a project rendered with an app of its own (tests/fixtures/stm32_app) passes
#: as ``common_files``.
STM32_PORT_COMMON = ("ek_port.h", "ek_regbus.h", "ek_synth.h", "ek_synth.c", "ek_lsm6dsl.h",
                     "ek_lsm6dsl.c", "ek_semihost.h", "ek_semihost.c", "ek_text.h", "ek_text.c")


def core_sources() -> list[Path]:
    """The portable protocol endpoint's C files (firmware_templates/common)."""
    return [COMMON / name for name in CORE]


def host_firmware_sources() -> list[Path]:
    """The host test firmware (tests/hil): the core, the host port and its synthetic sensors,
    without a model (add tests/fixtures/fake_model/edgekit_model.c or a real one)."""
    return [*core_sources(), COMMON / "ek_synth.c", HOST / "ek_port_host.c", HOST / "main.c"]


#: Warnings and sanitizers for C that tests run on the host: any warning, leak, overflow or
#: undefined behaviour fails the test.
HOST_C_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1", "-g",
                "-fsanitize=address,undefined", "-fno-sanitize-recover=all")


def build_sanitized(exe: Path, sources: list[Path], include_dirs: list[Path], *extra_flags: str) -> Path:
    """Compile `sources` into `exe` with host gcc and HOST_C_FLAGS; skips when there is no gcc,
    fails the test with the compiler's message when the build fails."""
    import shutil
    import subprocess

    import pytest

    if shutil.which("gcc") is None:
        pytest.skip("needs a host gcc")
    cmd = ["gcc", *HOST_C_FLAGS, *extra_flags, *(f"-I{d}" for d in include_dirs), *map(str, sources),
           "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
    return exe
