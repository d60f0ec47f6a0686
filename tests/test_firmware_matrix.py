"""Every example generates and builds (real arm-none-eabi-gcc) for a Cortex-M4F and a Cortex-M7
STM32 board, every other STM32 board builds one of them (its port, drivers and linker script;
the kernels compile as for the Cortex-M4F), and every example's ESP32 project renders with the
portable sources compiling for rv32imc (the ESP32-C3 ISA)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edgekit.boards import list_boards, load_board
from edgekit.project.build import build_project
from edgekit.project.generate import generate_project

pytestmark = [pytest.mark.tf, pytest.mark.toolchain, pytest.mark.long]
EXAMPLES = ["sine", "gesture", "anomaly", "digits"]
STM32_BOARDS = [b.id for b in list_boards() if b.family == "stm32"]
ESP32_BOARDS = [b.id for b in list_boards() if b.family == "esp32"]
RV32 = ["riscv64-unknown-elf-gcc", "-march=rv32imc", "-mabi=ilp32", "-ffreestanding", "-std=c99", "-O2",
        "-Wall", "-Wextra", "-Werror", "-pedantic"]


FULL = [b for b in ("nucleo-f446re", "nucleo-h743zi") if b in STM32_BOARDS]   # Cortex-M4F, Cortex-M7
OTHERS = [b for b in STM32_BOARDS if b not in FULL]
MATRIX = [(e, b) for b in FULL for e in EXAMPLES] + [(EXAMPLES[i % len(EXAMPLES)], b) for i, b in enumerate(OTHERS)]


@pytest.mark.parametrize(("example", "board_id"), MATRIX)
def test_example_builds_for_stm32_board(trained_example, tmp_path: Path, example: str, board_id: str) -> None:
    board = load_board(board_id)
    gen = generate_project(trained_example(example).tflite, board, tmp_path / "fw")
    result = build_project(gen.project)
    size = result.size
    assert size.fits and result.elf.is_file()
    # The estimate `generate` refuses too-big models with must not be below what was built.
    assert gen.flash_estimate >= size.flash_used and gen.ram_estimate >= size.ram_used


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_esp32_projects(trained_example, tmp_path: Path, example: str) -> None:
    model = trained_example(example).tflite
    for board_id in ESP32_BOARDS:
        board = load_board(board_id)
        project = generate_project(model, board, tmp_path / board_id).project_dir
        main = project / "main"
        for name in ("CMakeLists.txt", "idf_component.yml", "ek_port_esp32.c", "edgekit_model.c", "ek_app.c"):
            assert (main / name).is_file(), name
        assert f'CONFIG_IDF_TARGET="{board.esp32["target"]}"' in (project / "sdkconfig.defaults").read_text()
    # Everything but the ESP-IDF port is portable C: compile it for the ESP32-C3's rv32imc.
    main = tmp_path / "esp32-c3-devkitm-1" / "main"
    sources = sorted(p for p in main.glob("*.c") if p.name != "ek_port_esp32.c")
    assert {p.name for p in sources} >= {"edgekit_model.c", "ek_app.c", "ek_protocol.c", "ekrt_nn.c"}
    for src in sources:
        r = subprocess.run([*RV32, f"-I{main}", "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{src.name}: {r.stderr}"
