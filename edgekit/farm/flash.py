"""Flash a locked place through its resources, the way labgrid's drivers reach them:

- a virtual board of `edgekit farm up` (resource EdgekitVirtualBoard): the image goes to the farm,
  which restarts that board's QEMU with it;
- a debug probe (USBDebugger, exported as NetworkUSBDebugger): OpenOCD with the board file's
  args, run on the exporter's host over ssh (as labgrid's OpenOCDDriver does), choosing the probe
  by its USB path; the image is copied there first with scp;
- an ESP32's serial port (NetworkSerialPort): esptool through the RFC2217 URL.

Every command goes through the runners' Executor, so --dry-run prints them and tests assert them.
"""

from __future__ import annotations

import json
import shlex
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edgekit.boards import Board
from edgekit.errors import DeviceError, UsageError
from edgekit.farm.place import FarmTarget, OnWait, Place, acquired
from edgekit.project.manifest import Project
from edgekit.runners import Executor, FlashImage, make_runner

VIRTUAL_CLASS = "EdgekitVirtualBoard"     # published by edgekit.farm.virtual
DEBUGGER_CLASSES = ("NetworkUSBDebugger", "USBDebugger")
REMOTE_IMAGE_DIR = "/tmp"                 # where the image goes on the exporter's host
FLASH_TIMEOUT_S = 60.0


def _is_local(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1", socket.gethostname(), socket.getfqdn())


def flash_virtual(place: Place, elf: Path, *, timeout: float = FLASH_TIMEOUT_S) -> dict[str, object]:
    """Send `elf` to the virtual farm, which restarts the place's QEMU with it; the farm's answer
    (the board's new QEMU command line)."""
    res = place.find(VIRTUAL_CLASS)
    assert res is not None
    url = str(res.params["url"])
    request = urllib.request.Request(url, data=elf.read_bytes(), method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return dict(json.loads(reply.read()))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace").strip()
        raise DeviceError(f"the virtual farm could not flash place {place.name}: {detail}",
                          hint="see the farm's log (edgekit farm status)") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeviceError(f"the virtual farm's flasher for place {place.name} at {url} is gone: {reason}",
                          hint="is the farm still up? edgekit farm status") from None


def debugger_commands(place: Place, board: Board, elf: Path) -> list[list[str]]:
    """The commands that flash `elf` onto `board` through the place's debug probe with OpenOCD: scp +
    ssh when the probe hangs on another host, the OpenOCD line alone when it is here."""
    res = place.find(*DEBUGGER_CLASSES)
    assert res is not None
    openocd = next((r for r in board.runners if r.name == "openocd"), None)
    if openocd is None:
        raise UsageError(f"place {place.name} has a debug probe, but board '{board.id}' has no openocd runner",
                         hint="add one to the board file, or flash the place yourself and pass --no-flash")
    host, usb_path = str(res.params.get("host", "localhost")), res.params.get("path")
    select = ["-c", f"adapter usb location {usb_path}"] if usb_path else []
    if _is_local(host):
        return [["openocd", *openocd.args, *select, "-c", f"program {elf} verify reset exit"]]
    remote = f"{REMOTE_IMAGE_DIR}/edgekit-{place.name}.elf"
    program = ["openocd", *openocd.args, *select, "-c", f"program {remote} verify reset exit"]
    return [["scp", "-q", "-o", "BatchMode=yes", str(elf), f"{host}:{remote}"],
            ["ssh", "-x", "-o", "BatchMode=yes", host, "--", shlex.join(program)]]


def flash_place(place: Place, project: Project, executor: Executor) -> str:
    """Flash the project's built image onto the locked place; says how (for the report)."""
    elf = FlashImage(project.elf_path, project.build_dir).require_file(project.elf_path)
    if place.find(VIRTUAL_CLASS) is not None:
        executor.echo(f"flashing {place.name} (virtual farm: restart its QEMU with {elf.name})")
        if not executor.dry_run:
            flash_virtual(place, elf)
        return "virtual farm (QEMU restarted with the image)"
    if place.find(*DEBUGGER_CLASSES) is not None:
        for argv in debugger_commands(place, project.board, elf):
            executor.run(argv, what=f"flashing place {place.name} ({argv[0]})")
        return "openocd through the place's debug probe"
    if any(r.name == "esptool" for r in project.board.runners):
        make_runner(project.board, "esptool", executor, place.serial_url).flash(
            FlashImage(project.elf_path, project.build_dir))
        return "esptool over the place's RFC2217 serial port"
    classes = ", ".join(sorted({r.cls for r in place.resources})) or "none"
    raise UsageError(f"place {place.name} has no resource edgekit can flash board '{project.board.id}' "
                     f"through (its resources: {classes})",
                     hint="export its debug probe (USBDebugger), or flash it yourself and pass --no-flash")




@contextmanager
def place_port(target: FarmTarget, project: Project | None, *, flash: bool = True,
               on_wait: OnWait | None = None) -> Iterator[str]:
    """One place of `target` locked for the block, flashed with `project`'s image (when given and
    `flash`); yields its serial URL and releases it however the block ends (stream, complete)."""
    with acquired(target, 1, on_wait=on_wait) as [place]:
        if project is not None and flash:
            flash_place(place, project, Executor(echo=lambda line: print(line, file=sys.stderr)))
        yield place.serial_url


__all__ = ["DEBUGGER_CLASSES", "VIRTUAL_CLASS", "debugger_commands", "flash_place", "flash_virtual", "place_port"]
