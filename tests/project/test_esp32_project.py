"""ESP32 projects render to a complete ESP-IDF tree (ESP-IDF itself is not installed here:
the tree, the generated headers and the configuration are what we can check)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from edgekit.boards import load_board
from edgekit.errors import MissingToolError
from edgekit.project.build import build_project
from edgekit.project.families import family_of
from edgekit.project.render import render_project

SHA = "e5" * 32
MODEL = {"edgekit_model.h": "/* model header */\n", "edgekit_model.c": "/* model */\n"}
ESP32_BOARDS = {  # board -> (IDF target, MHz, flash size, dual core)
    "esp32-devkitc": ("esp32", 240, "4MB", True),
    "esp32-s3-devkitc-1": ("esp32s3", 240, "8MB", True),
    "esp32-c3-devkitm-1": ("esp32c3", 160, "4MB", False),
}


def _sdkconfig(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


@pytest.mark.parametrize("board_id", sorted(ESP32_BOARDS))
@pytest.mark.parametrize("runtime", ["edgekit-rt", "tflm"])
def test_esp32_tree(board_id: str, runtime: str, tmp_path: Path) -> None:
    target, mhz, flash, dual = ESP32_BOARDS[board_id]
    out = render_project(load_board(board_id), tmp_path / "fw", model_sources=MODEL,
                         context={"model_sha256": SHA, "runtime": runtime}).root
    for rel in ("CMakeLists.txt", "sdkconfig.defaults", "main/CMakeLists.txt",
                "main/idf_component.yml", "main/ek_port_esp32.c", "main/ek_board.h",
                "main/ek_port.h", "main/edgekit_model.c", "edgekit.json"):
        assert (out / rel).is_file(), rel
    top = (out / "CMakeLists.txt").read_text()
    assert "include($ENV{IDF_PATH}/tools/cmake/project.cmake)" in top
    assert re.search(r"^project\(edgekit_fw\)$", top, re.M)

    cfg = _sdkconfig(out / "sdkconfig.defaults")
    assert cfg["CONFIG_IDF_TARGET"] == f'"{target}"'
    assert cfg[f"CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_{mhz}"] == "y"
    assert cfg["CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ"] == str(mhz)
    assert cfg[f"CONFIG_ESPTOOLPY_FLASHSIZE_{flash}"] == "y"
    assert cfg["CONFIG_ESP_CONSOLE_UART_NUM"] == "0"
    assert cfg["CONFIG_ESP_CONSOLE_UART_BAUDRATE"] == "115200"
    assert int(cfg["CONFIG_ESP_MAIN_TASK_STACK_SIZE"]) >= 4096
    assert ("CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU1" in cfg) == dual

    component = yaml.safe_load((out / "main" / "idf_component.yml").read_text())
    deps = component["dependencies"]
    assert deps["idf"]["version"] == ">=5.0"
    if runtime == "tflm":
        assert deps["espressif/esp-tflite-micro"] == "^1.3.8"
    else:
        assert "espressif/esp-tflite-micro" not in deps

    main_cmake = (out / "main" / "CMakeLists.txt").read_text()
    listed = set(re.findall(r'^\s+"([\w./-]+\.(?:c|cc|cpp))"$', main_cmake, re.M))
    on_disk = {p.name for p in (out / "main").iterdir() if p.suffix in (".c", ".cc", ".cpp")}
    assert listed == on_disk and "ek_port_esp32.c" in listed
    assert "PRIV_REQUIRES driver esp_timer" in main_cmake
    assert "-Wall -Wextra -Werror" in main_cmake

    port = (out / "main" / "ek_port_esp32.c").read_text()
    for needle in ('#include "driver/uart.h"', "esp_cpu_get_cycle_count()", "esp_timer_get_time()",
                   "uart_driver_install(EK_UART", "void app_main(void)\n{\n    ek_port_init();\n"
                   "    ek_app_run();", "esp_restart()"):
        assert needle in port, needle
    header = (out / "main" / "ek_board.h").read_text()
    assert f'#define EK_BOARD_ID        "{board_id}"' in header
    assert f"#define EK_CYCLES_HZ       {mhz * 1_000_000}u" in header


def test_esp_idf_build_command_and_image(tmp_path: Path) -> None:
    family = family_of(load_board("esp32-devkitc"))
    fw, build = tmp_path / "fw", tmp_path / "fw" / "build"
    assert family.build_commands(fw, build) == [["idf.py", "-C", str(fw), "-B", str(build), "build"]]
    assert family.tools == ("idf.py",) and family.source_dir == "main"
    build.mkdir(parents=True)
    assert family.elf_path(build) == build / "firmware.elf"             # nothing built yet
    (build / "edgekit_fw.elf").write_bytes(b"")
    assert family.elf_path(build) == build / "edgekit_fw.elf"
    (build / "project_description.json").write_text(json.dumps({"app_elf": "app.elf"}))
    assert family.elf_path(build) == build / "app.elf"                  # what ESP-IDF says


def test_idf_missing_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    if shutil.which("idf.py"):
        pytest.skip("ESP-IDF is installed here")
    board = load_board("esp32-devkitc")
    project = render_project(board, tmp_path / "fw", model_sources=MODEL, context={"model_sha256": SHA})
    with pytest.raises(MissingToolError, match="idf.py not found") as exc:
        build_project(project)
    assert "export.sh" in str(exc.value)
    assert not project.build_dir.exists()             # refused before anything was written
