"""A board file's record and its schema: the types and fields every board file has.

This module knows no family and no runner: :func:`read_board_file` checks the names a file
gives for them against the names it is handed, and :mod:`edgekit.boards` hands it the
registries' (families and runners import the record from here).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import BoardError

CORES = (
    "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m4f", "cortex-m7f", "cortex-m7fd",
    "cortex-m33f", "xtensa-lx6", "xtensa-lx7", "riscv32imc",
)
# DWT (Cortex-M), a timer, SysTick, esp_cpu_get_cycle_count() (ESP32), the mcycle CSR (RISC-V).
CYCLE_COUNTERS = ("dwt", "tim2", "systick", "esp_cpu", "mcycle")


@dataclass(frozen=True)
class MemoryRegion:
    """A memory region: start address and size in bytes."""

    origin: int
    size: int


@dataclass(frozen=True)
class Runner:
    """A flash runner the board supports, with its board-specific arguments."""

    name: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sensor:
    """A sensor on the board; `extra` holds the wiring fields (bus, address, pins...)."""

    id: str
    kind: str
    part: str
    axes: int
    units: str
    max_rate_hz: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Board:
    """One board as its datasheet and user manual describe it."""

    id: str
    name: str
    vendor: str
    family: str
    mcu: str
    core: str
    max_clock_hz: int
    flash: MemoryRegion
    ram: MemoryRegion
    console: dict[str, Any]
    clock: dict[str, Any]
    cycle_counter: dict[str, Any]
    runners: tuple[Runner, ...]
    sensors: tuple[Sensor, ...]
    virtual: bool
    url: str
    esp32: dict[str, Any]
    extra_memory: dict[str, MemoryRegion]
    source: Path

    @property
    def baud(self) -> int:
        """Console baud rate."""
        return int(self.console.get("baud", 115200))

    @property
    def usb_ids(self) -> tuple[int, int] | None:
        """(VID, PID) of the USB bridge carrying the console, when the file names them."""
        vid, pid = self.console.get("usb_vid"), self.console.get("usb_pid")
        return (vid, pid) if vid is not None and pid is not None else None

    @property
    def cycles_hz(self) -> int:
        """What the cycle counter counts at: its own `hz`, else the configured core clock."""
        return int(self.cycle_counter.get("hz", self.clock.get("sysclk_hz", self.max_clock_hz)))

    def sensor(self, sensor_id: str) -> Sensor:
        """The sensor called `sensor_id`; BoardError listing the board's sensors otherwise."""
        for s in self.sensors:
            if s.id == sensor_id:
                return s
        known = ", ".join(s.id for s in self.sensors) or "none"
        raise BoardError(f"board '{self.id}' has no sensor '{sensor_id}' (it has: {known})")


def field_error(path: Path, field: str, why: str) -> BoardError:
    """The one error for a wrong field of a board file: names the file and the field."""
    return BoardError(f"invalid board file {path}: field '{field}' {why}",
                      hint="fix the field; see boards/README.md for the schema")


class _Checker:
    """Reads typed fields from a TOML table and names file and field when one is wrong."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, why: str) -> BoardError:
        return field_error(self.path, where, why)

    def get(self, table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str,
            default: Any = ..., choices: Iterable[Any] | None = None) -> Any:
        name = f"{where}{key}"
        if key not in table:
            if default is ...:
                raise self.fail(name, "is missing")
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # TOML booleans are not integers for our purposes.
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(name, f"must be {self._kind_name(kinds)}, not a boolean")
        if not isinstance(value, kinds):
            raise self.fail(name, f"must be {self._kind_name(kinds)}, not {type(value).__name__}")
        if choices is not None and value not in tuple(choices):
            raise self.fail(name, f"is '{value}', expected one of: {', '.join(map(str, choices))}")
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise self.fail(name, "must not be negative")
        return value

    @staticmethod
    def _kind_name(kinds: tuple[type, ...]) -> str:
        names = {int: "an integer", str: "a string", bool: "true or false", dict: "a table",
                 list: "a list", float: "a number"}
        return " or ".join(names.get(k, k.__name__) for k in kinds)

    def memory(self, table: dict[str, Any], key: str) -> MemoryRegion:
        region = self.get(table, key, dict, "memory.")
        size = self.get(region, "size", int, f"memory.{key}.")
        if size == 0:
            raise self.fail(f"memory.{key}.size", "must be greater than 0")
        return MemoryRegion(origin=self.get(region, "origin", int, f"memory.{key}."), size=size)


def read_board_file(path: Path, *, families: Sequence[str], runner_names: Sequence[str]) -> Board:
    """One board file checked against the schema; its family must be one of `families` and
    each runner one of `runner_names` (the family's own checks come after, in edgekit.boards)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BoardError(f"cannot read board file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BoardError(f"board file {path} is not valid TOML: {exc}") from None
    c = _Checker(path)
    board_id = c.get(raw, "id", str, "")
    if board_id != path.stem:
        raise c.fail("id", f"is '{board_id}' but the file is named '{path.name}': they must match")
    family = c.get(raw, "family", str, "", choices=tuple(families))
    memory = c.get(raw, "memory", dict, "")
    extra_memory = {k: c.memory(memory, k) for k in memory if k not in ("flash", "ram")}
    console = c.get(raw, "console", dict, "")
    c.get(console, "baud", int, "console.", default=115200)
    for key in ("usb_vid", "usb_pid"):
        c.get(console, key, int, "console.", default=None)
    cycle_counter = c.get(raw, "cycle_counter", dict, "")
    c.get(cycle_counter, "kind", str, "cycle_counter.", choices=CYCLE_COUNTERS)
    runners = []
    for i, r in enumerate(c.get(raw, "runners", list, "")):
        if not isinstance(r, dict):
            raise c.fail(f"runners[{i}]", "must be a table")
        args = c.get(r, "args", list, f"runners[{i}].", default=[])
        if not all(isinstance(a, str) for a in args):
            raise c.fail(f"runners[{i}].args", "must be a list of strings")
        runners.append(Runner(name=c.get(r, "name", str, f"runners[{i}].", choices=tuple(runner_names)),
                              args=tuple(args)))
    if not runners:
        raise c.fail("runners", "must list at least one flash runner")
    sensors = []
    for i, s in enumerate(c.get(raw, "sensors", list, "", default=[])):
        if not isinstance(s, dict):
            raise c.fail(f"sensors[{i}]", "must be a table")
        w = f"sensors[{i}]."
        known = {"id", "kind", "part", "axes", "units", "max_rate_hz"}
        sensors.append(Sensor(
            id=c.get(s, "id", str, w), kind=c.get(s, "kind", str, w), part=c.get(s, "part", str, w),
            axes=c.get(s, "axes", int, w), units=c.get(s, "units", str, w),
            max_rate_hz=c.get(s, "max_rate_hz", int, w),
            extra={k: v for k, v in s.items() if k not in known},
        ))
    esp32 = c.get(raw, "esp32", dict, "", default={})
    clock = c.get(raw, "clock", dict, "")
    c.get(clock, "sysclk_hz", int, "clock.")
    return Board(
        id=board_id,
        name=c.get(raw, "name", str, ""),
        vendor=c.get(raw, "vendor", str, ""),
        family=family,
        mcu=c.get(raw, "mcu", str, ""),
        core=c.get(raw, "core", str, "", choices=CORES),
        max_clock_hz=c.get(raw, "max_clock_hz", int, ""),
        flash=c.memory(memory, "flash"),
        ram=c.memory(memory, "ram"),
        console=console,
        clock=clock,
        cycle_counter=cycle_counter,
        runners=tuple(runners),
        sensors=tuple(sensors),
        virtual=c.get(raw, "virtual", bool, "", default=False),
        url=c.get(raw, "url", str, "", default=""),
        esp32=esp32,
        extra_memory=extra_memory,
        source=path,
    )


__all__ = ["Board", "MemoryRegion", "Runner", "Sensor", "CORES", "CYCLE_COUNTERS", "field_error",
           "read_board_file"]
