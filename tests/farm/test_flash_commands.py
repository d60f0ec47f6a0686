"""How a place is flashed, by its resources (fast tier: no labgrid process, no board): the exact
command lines for a physical board's debug probe, the serial URL of an exported port."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from edgekit.boards import load_board
from edgekit.errors import UsageError
from edgekit.farm.client import LabgridClient, PlaceInfo, Resource
from edgekit.farm.flash import debugger_commands
from edgekit.farm.place import Place

ELF = Path("/work/fw/build/firmware.elf")
SERIAL = Resource("RawSerialPort", "lab1/f446-1/NetworkSerialPort/USBSerialPort", "NetworkSerialPort",
                  {"host": "lab1.example", "port": 50123, "speed": 115200, "extra": {"path": "/dev/ttyACM0"}})


def _place(*resources: Resource) -> Place:
    return Place("rack1-f446", None, list(resources), cast(LabgridClient, None))


def _probe(host: str) -> Resource:
    return Resource("USBDebugger", "lab1/f446-1/NetworkUSBDebugger/USBDebugger", "NetworkUSBDebugger",
                    {"host": host, "busnum": 1, "devnum": 7, "path": "1-1.2", "vendor_id": 0x0483,
                     "model_id": 0x374B})


def test_a_remote_probe_is_flashed_with_openocd_on_the_exporters_host() -> None:
    place = _place(SERIAL, _probe("lab1.example"))
    assert debugger_commands(place, load_board("nucleo-f446re"), ELF) == [
        ["scp", "-q", "-o", "BatchMode=yes", str(ELF), "lab1.example:/tmp/edgekit-rack1-f446.elf"],
        ["ssh", "-x", "-o", "BatchMode=yes", "lab1.example", "--",
         "openocd -f board/st_nucleo_f4.cfg -c 'adapter usb location 1-1.2' "
         "-c 'program /tmp/edgekit-rack1-f446.elf verify reset exit'"],
    ]


def test_a_probe_on_this_host_runs_openocd_here() -> None:
    assert debugger_commands(_place(_probe("localhost")), load_board("nucleo-f446re"), ELF) == [
        ["openocd", "-f", "board/st_nucleo_f4.cfg", "-c", "adapter usb location 1-1.2",
         "-c", f"program {ELF} verify reset exit"]]


def test_a_board_without_openocd_runner_says_so() -> None:
    with pytest.raises(UsageError, match="has no openocd runner"):
        debugger_commands(_place(_probe("lab1.example")), load_board("esp32-devkitc"), ELF)


def test_serial_url_is_rfc2217_without_modem_lines() -> None:
    assert _place(SERIAL).serial_url == "rfc2217://lab1.example:50123?ign_set_control"
    with pytest.raises(UsageError, match="has no serial port"):
        _ = _place().serial_url


def test_tags_match_like_labgrid_reservations() -> None:
    place = PlaceInfo("p", {"board": "nucleo-f446re", "lab": "rack1"}, None)
    assert place.matches({"board": "nucleo-f446re"}) and place.matches({})
    assert not place.matches({"board": "nucleo-f446re", "lab": "rack2"})


def test_without_labgrid_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    from edgekit.errors import MissingToolError
    from edgekit.farm.client import labgrid_program

    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError, match="labgrid-client not found") as exc:
        labgrid_program("labgrid-client")
    assert exc.value.exit_code == 4 and "pip install 'edgekit[farm]'" in str(exc.value.hint)
