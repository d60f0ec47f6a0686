"""I2C sensors the STM32 port drives: bus timing (I2C_TIMINGR) and LSM6DSL register settings.

The port drives these parts over the v2 I2C block (TIMINGR, CR2.NBYTES/AUTOEND: RM0351 §39
on L4/L4+, RM0433 §47 on H7, same layout on F7). STM32F4 has the v1 block (CR1.START,
SR1/SR2, CCR/TRISE): no driver, and a board asking for one is a BoardError.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from edgekit.boards.schema import Board
from edgekit.project.families.base import board_error, int_field, stm32_pin
from edgekit.project.families.stm32_tables import I2C_INSTANCES, Series

# Part -> sensor kinds it provides.
I2C_PARTS = {"LSM6DSL": ("accelerometer", "gyroscope")}
# I2C-bus limits in ns (UM10204 table 10; RM0351 §39.4.5 table "I2C-SMBUS specification data
# setup and hold times"): tLOW min, tHIGH min, tSU;DAT min, tVD;DAT max, tr max, tf max.
I2C_SPEC = {100_000: (4700, 4000, 250, 3450, 1000, 300),
            400_000: (1300, 600, 100, 900, 300, 300)}
_I2C_TAF = (50, 260)   # analog filter delay min/max, ns (datasheet "I2C analog filter")
# LSM6DSL (datasheet DS11503): ODR field of CTRL1_XL/CTRL2_G (register description,
# high-performance mode), full scale -> (FS bits, sensitivity in ug/LSB or udps/LSB)
# (table 3, mechanical characteristics).
_LSM6DSL_ODR = ((Fraction(25, 2), 1), (26, 2), (52, 3), (104, 4), (208, 5), (416, 6),
                (833, 7), (1660, 8), (3330, 9), (6660, 10))
_LSM6DSL_FS = {
    "accelerometer": {2: (0b00, 61), 4: (0b10, 122), 8: (0b11, 244), 16: (0b01, 488)},
    "gyroscope": {125: (0b001, 4375), 250: (0b000, 8750), 500: (0b010, 17500),
                  1000: (0b100, 35000), 2000: (0b110, 70000)},   # FS_G[3:2] and FS_125 (bit 1)
}
_LSM6DSL_UNITS = {"accelerometer": {"mg": 1000},   # units per g or per dps
                  "gyroscope": {"mdps": 1000, "centi_dps": 100, "deci_dps": 10, "dps": 1}}
_LSM6DSL_DEFAULT_FS = {"accelerometer": 2, "gyroscope": 250}


def i2c_timingr(kernel_hz: int, bus_hz: int) -> dict[str, int] | None:
    """I2C_TIMINGR for a v2 I2C block (RM0351 §39.4.5 "I2C timings"), analog filter on, DNF 0.

    The smallest PRESC whose SCLDEL/SDADEL/SCLL/SCLH fit their fields and meet the bus limits
    at the standard's worst-case rise/fall times; SCLL is stretched so that the SCL period,
    with the two shortest possible synchronisation delays (tAF(min) + 2 tI2CCLK each), is no
    shorter than 1/bus_hz. None when no setting exists.
    """
    t_low, t_high, t_su, t_vd, t_r, t_f = I2C_SPEC[bus_hz]
    af_min, af_max = _I2C_TAF
    t_clk = Fraction(10**9, kernel_hz)
    for presc in range(16):
        t_p = (presc + 1) * t_clk
        scldel = max(0, math.ceil((t_r + t_su) / t_p) - 1)
        sdadel = max(0, math.ceil((t_f - af_min - 3 * t_clk) / t_p))
        sdadel_max = math.floor((t_vd - t_r - af_max - 4 * t_clk) / t_p)
        low, high = math.ceil(t_low / t_p), math.ceil(t_high / t_p)
        need = math.ceil((Fraction(10**9, bus_hz) - 2 * (af_min + 2 * t_clk)) / t_p)
        low += max(0, need - low - high)
        if scldel <= 15 and sdadel <= min(15, sdadel_max) and low <= 256 and high <= 256:
            return {"presc": presc, "scldel": scldel, "sdadel": sdadel, "sclh": high - 1,
                    "scll": low - 1, "value": (presc << 28) | (scldel << 20) | (sdadel << 16)
                    | ((high - 1) << 8) | (low - 1)}
    return None


def _lsm6dsl_settings(board: Board, index: int) -> dict[str, Any]:
    """CTRL register value, ODR, full scale and sample scaling of one LSM6DSL sensor entry."""
    s = board.sensors[index]
    w = f"sensors[{index}]."
    full_scale = int_field(board, s.extra, "full_scale", w, _LSM6DSL_DEFAULT_FS[s.kind],
                           tuple(_LSM6DSL_FS[s.kind]))
    fs_bits, sens = _LSM6DSL_FS[s.kind][full_scale]
    per_unit = _LSM6DSL_UNITS[s.kind].get(s.units)
    if per_unit is None:
        raise board_error(board, f"{w}units", f"is '{s.units}', the {s.part} "
                          f"{s.kind} port gives {', '.join(_LSM6DSL_UNITS[s.kind])}")
    if full_scale * per_unit > 32767:
        raise board_error(board, f"{w}units", f"'{s.units}' at full scale {full_scale} "
                          f"({full_scale * per_unit}) does not fit an int16 sample: use a "
                          "coarser unit or a smaller full_scale")
    odr = next(((hz, bits) for hz, bits in _LSM6DSL_ODR if hz >= s.max_rate_hz), None)
    if odr is None:
        raise board_error(board, f"{w}max_rate_hz", f"is {s.max_rate_hz}, above the "
                          f"{s.part}'s fastest output data rate (6660 Hz)")
    accel = s.kind == "accelerometer"
    scale = Fraction(sens * per_unit, 10**6)   # value in units = raw * scale
    return {
        "ctrl_reg": "CTRL1_XL" if accel else "CTRL2_G",
        "ctrl_value": (odr[1] << 4) | (fs_bits << 2 if accel else fs_bits << 1),
        "out_reg": "OUTX_L_XL" if accel else "OUTX_L_G",
        "odr_hz": f"{float(odr[0]):g}",
        "full_scale": full_scale, "fs_unit": "g" if accel else "dps",
        "sensitivity": f"{sens / 1000:g} {'mg' if accel else 'mdps'}/LSB",
        "scale_num": scale.numerator, "scale_den": scale.denominator}


def _bus_pin(board: Board, field: str, value: Any) -> dict[str, int | str]:
    if value is None:
        raise board_error(board, field, "is missing (the pin the I2C bus is wired to, e.g. 'PB10')")
    return stm32_pin(board, field, value, "PB10")


def stm32_i2c(board: Board, series: Series, pclk1: int) -> dict[str, Any]:
    """I2C buses, chips and sensors the port drives: those whose part has a driver and whose
    `bus` is an I2C instance. Empty for every other board."""
    buses: dict[str, dict[str, Any]] = {}
    chips: dict[tuple[str, int], dict[str, Any]] = {}
    sensors: dict[str, dict[str, Any]] = {}
    for i, s in enumerate(board.sensors):
        bus = s.extra.get("bus")
        w = f"sensors[{i}]."
        if s.kind not in I2C_PARTS.get(s.part, ()) or not isinstance(bus, str) \
                or not re.fullmatch(r"I2C[0-9]+", bus):
            continue
        if series == "f4":
            raise board_error(board, f"{w}bus", f"is '{bus}' for the {s.part} on {board.mcu}: "
                              "the port's I2C driver is for the v2 I2C block (STM32L4/L4+/H7/F7: "
                              "TIMINGR, CR2.NBYTES); STM32F4 has the older v1 I2C "
                              "(SR1/SR2, CCR/TRISE), which edgekit does not drive")
        if board.virtual:
            raise board_error(board, f"{w}bus", "names an I2C sensor on a virtual board: the "
                              "emulator has nothing on the bus (use part = 'synthetic')")
        if bus not in I2C_INSTANCES[series]:
            raise board_error(board, f"{w}bus", f"is '{bus}', the port drives "
                              f"{', '.join(I2C_INSTANCES[series])} on {board.mcu}")
        scl, sda = (_bus_pin(board, f"{w}{pin}", s.extra.get(pin)) for pin in ("scl", "sda"))
        af = int_field(board, s.extra, "af", w, allowed=range(16))
        bus_hz = int_field(board, s.extra, "bus_hz", w, 400_000, tuple(I2C_SPEC))
        wiring: dict[str, Any] = {"scl": scl, "sda": sda, "af": af, "bus_hz": bus_hz}
        if bus in buses:
            first = buses[bus]
            for key, value in wiring.items():
                if first[key] != value:
                    raise board_error(board, f"{w}{key}", f"differs from sensor "
                                      f"'{first['first_sensor']}' on the same bus {bus}")
        else:
            timing = i2c_timingr(pclk1, bus_hz)
            if timing is None:
                raise board_error(board, f"{w}bus_hz", f"is {bus_hz}: no I2C timing "
                                  f"reaches it from the {pclk1} Hz I2C kernel clock (PCLK1)")
            inst = I2C_INSTANCES[series][bus]
            buses[bus] = {"name": bus, "ident": bus.lower(), "base": inst.base,
                          "rcc_enr": inst.rcc_enr, "rcc_bit": inst.rcc_bit,
                          "sel_reg": inst.sel_reg, "sel_shift": inst.sel_shift,
                          "kernel_hz": pclk1, "timing": timing, "first_sensor": s.id, **wiring}
        address = s.extra.get("address")
        if isinstance(address, bool) or not isinstance(address, int) or \
                not 0x08 <= address <= 0x77:
            raise board_error(board, f"{w}address", f"is {address!r}, expected a 7-bit I2C "
                              "address 0x08..0x77")
        settings = _lsm6dsl_settings(board, i)
        chip = chips.setdefault((bus, address), {
            "ident": f"{s.part.lower()}_{bus.lower()}_{address:02x}", "part": s.part, "bus": bus,
            "address": address, "sensors": []})
        if chip["part"] != s.part:
            raise board_error(board, f"{w}part", f"is '{s.part}' but {bus} address "
                              f"0x{address:02X} is already a {chip['part']}")
        sensors[s.id] = {"chip": chip["ident"], **settings}
        chip["sensors"].append(s.id)
    return {"buses": list(buses.values()), "chips": list(chips.values()), "sensors": sensors}


__all__ = ["i2c_timingr", "stm32_i2c", "I2C_PARTS", "I2C_SPEC"]
