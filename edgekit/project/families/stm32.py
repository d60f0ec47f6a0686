"""The STM32 family: clock tree, console and sensors from a board file; CMake + arm-none-eabi-gcc.

The templates in firmware_templates/stm32/ get :func:`stm32_context` under ``stm32``; the
project builds with ``cmake -G Ninja`` and the toolchain file it carries (:mod:`.cmake`).
TFLM is built from a user's source tree with the same compiler and CPU flags; virtual boards
run in ``qemu-system-arm``.
"""

from __future__ import annotations

from typing import Any

from edgekit.boards.schema import Board
from edgekit.errors import BoardError
from edgekit.project.families.base import CrossBuild, TflmSupport, board_error, int_field, stm32_pin
from edgekit.project.families.cmake import CMakeFamily
from edgekit.project.families.i2c import stm32_i2c
from edgekit.project.families.stm32_tables import (
    AHB_DIVS,
    APB_DIVS,
    CLOCK_SOURCES,
    CORE_FLAGS,
    FIXED_OSC_HZ,
    GPIO,
    IRQ_LINES,
    L4_PLUS,
    SERIES_PREFIXES,
    UARTS,
    Series,
)

TOOLCHAIN_FILE = "cmake/arm-none-eabi.cmake"   # rendered from cmake/arm-none-eabi.cmake.j2


def stm32_series(board: Board) -> Series:
    """The register map the port uses for the board's MCU ("f4", "l4" or "h7")."""
    mcu = board.mcu.upper()
    for prefix, series in SERIES_PREFIXES:
        if mcu.startswith(prefix):
            return series
    raise BoardError(f"board '{board.id}' ({board.source}): mcu '{board.mcu}' is not a supported "
                     "STM32 family", hint="supported: STM32F4, STM32L4/L4+, STM32H7")


def _pll(board: Board, series: Series, source: str, sysclk: int) -> tuple[int, dict[str, int]]:
    """(PLL input Hz, PLL dividers), checked to give `sysclk` within the board's maximum."""
    clk = board.clock
    fixed = FIXED_OSC_HZ.get((series, source))
    input_hz = int_field(board, clk, "input_hz", "clock.", fixed if fixed else ...)
    if fixed and input_hz != fixed:
        raise board_error(board, "clock.input_hz", f"is {input_hz} but {source.upper()} "
                          f"runs at {fixed} Hz on this family")
    raw_pll = clk.get("pll")
    if not isinstance(raw_pll, dict):
        raise board_error(board, "clock.pll", "is missing (a table with m, n and p or r)")
    out_div = "r" if series == "l4" else "p"   # L4 SYSCLK comes from PLLR, F4/H7 from PLLP
    pll: dict[str, int] = {}
    for key in ("m", "n", out_div):
        pll[key] = int_field(board, raw_pll, key, "clock.pll.")
    for key in ("p", "q", "r"):
        pll.setdefault(key, int_field(board, raw_pll, key, "clock.pll.", 2))
    if series == "f4" and pll["p"] not in (2, 4, 6, 8):
        raise board_error(board, "clock.pll.p", "must be 2, 4, 6 or 8 on STM32F4")
    if series == "l4" and pll["r"] not in (2, 4, 6, 8):
        raise board_error(board, "clock.pll.r", "must be 2, 4, 6 or 8 on STM32L4")
    if pll["m"] == 0:
        raise board_error(board, "clock.pll.m", "must be at least 1")
    got = input_hz // pll["m"] * pll["n"] // pll[out_div]
    if got != sysclk:
        raise board_error(board, "clock.sysclk_hz", f"is {sysclk} but the PLL gives "
                          f"{input_hz}/{pll['m']}*{pll['n']}/{pll[out_div]} = {got} Hz")
    if sysclk > board.max_clock_hz:
        raise board_error(board, "clock.sysclk_hz", f"is {sysclk}, above max_clock_hz")
    int_field(board, clk, "flash_wait_states", "clock.")
    return input_hz, pll


def _console(board: Board, series: Series, pclk: dict[str, int]) -> dict[str, Any]:
    """The console UART's registers, clock and pins."""
    uart_name = str(board.console.get("uart", ""))
    uarts = UARTS[series]
    if uart_name not in uarts:
        raise board_error(board, "console.uart", f"is '{uart_name}', expected one of "
                          f"{', '.join(uarts)} for {board.mcu}")
    uart = uarts[uart_name]
    tx: dict[str, int | str]
    rx: dict[str, int | str]
    if board.virtual:   # QEMU models no GPIO: no pins to set up
        tx = rx = {"name": "", "port": "A", "port_index": 0, "pin": 0}
        af = 0
    else:
        tx = stm32_pin(board, "console.tx", board.console.get("tx"), "PA2")
        rx = stm32_pin(board, "console.rx", board.console.get("rx"), "PA2")
        af = int_field(board, board.console, "af", "console.", allowed=range(16))
    gpio_base, gpio_enr = GPIO[series]
    return {"uart": uart_name, "base": uart.base, "rcc_enr": uart.rcc_enr, "rcc_bit": uart.rcc_bit,
            "bus": uart.bus, "kind": uart.kind, "irq": uart.irq, "clock_hz": pclk[uart.bus],
            "tx": tx, "rx": rx, "af": af, "gpio_base": gpio_base, "gpio_enr": gpio_enr}


def cpu_flags(board: Board) -> list[str]:
    """The compiler's CPU/FPU flags for the board's core (firmware and its TFLM library)."""
    if board.core not in CORE_FLAGS:
        raise board_error(board, "core", f"is '{board.core}', not a Cortex-M core")
    mcpu, mfpu = CORE_FLAGS[board.core]
    fpu = [f"-mfpu={mfpu}", "-mfloat-abi=hard"] if mfpu else ["-mfloat-abi=soft"]
    return [f"-mcpu={mcpu}", "-mthumb", *fpu]


def stm32_context(board: Board) -> dict[str, Any]:
    """Everything the STM32 templates derive from a board: family, clocks, console pins, I2C.

    BoardError naming file and field when the board file cannot give working firmware.
    """
    series = stm32_series(board)
    if board.core not in CORE_FLAGS:
        raise board_error(board, "core", f"is '{board.core}', not a Cortex-M core")
    mcpu, mfpu = CORE_FLAGS[board.core]
    clk = board.clock
    source = clk.get("source", "none")
    if source not in CLOCK_SOURCES:
        raise board_error(board, "clock.source", f"is '{source}', expected one of "
                          f"{', '.join(CLOCK_SOURCES)}")
    if source == "msi" and series != "l4":
        raise board_error(board, "clock.source", "'msi' exists only on STM32L4")
    sysclk = int(clk["sysclk_hz"])
    ahb_div = int_field(board, clk, "ahb_div", "clock.", 1, AHB_DIVS)
    apb = {f"apb{i}_div": int_field(board, clk, f"apb{i}_div", "clock.", 1, APB_DIVS)
           for i in (1, 2, 3, 4)}
    pll: dict[str, int] = {}
    if source != "none":
        _, pll = _pll(board, series, source, sysclk)
    hclk = sysclk // ahb_div
    # On H7 APB1/APB2 hang off D2 (D2PPRE1/2, RM0433 §8.5.6); the console is on one of them.
    pclk = {"apb1": hclk // apb["apb1_div"], "apb2": hclk // apb["apb2_div"]}
    console = _console(board, series, pclk)
    counter = board.cycle_counter["kind"]
    if counter == "esp_cpu":
        raise board_error(board, "cycle_counter.kind", "'esp_cpu' is for ESP32 boards")
    if counter == "dwt" and board.core == "cortex-m0plus":
        raise board_error(board, "cycle_counter.kind", "Cortex-M0+ has no DWT cycle counter")
    return {
        "family": series,
        "l4plus": series == "l4" and board.mcu.upper()[5:9] in L4_PLUS,
        "mcpu": mcpu,
        "mfpu": mfpu,
        "cpu_flags": cpu_flags(board),
        "m7": mcpu == "cortex-m7",
        "n_irqs": IRQ_LINES[series],
        "clock": {"source": source, "sysclk": sysclk, "hclk": hclk, "pclk1": pclk["apb1"],
                  "pclk2": pclk["apb2"], "ahb_div": ahb_div, **apb, "pll": pll,
                  "input_hz": int(clk.get("input_hz", 0)),
                  "flash_wait_states": int(clk.get("flash_wait_states", 0)),
                  "flash_wrhighfreq": int_field(board, clk, "flash_wrhighfreq", "clock.", 2,
                                                (0, 1, 2, 3)),
                  "voltage_scale": int_field(board, clk, "voltage_scale", "clock.", 1,
                                             (0, 1, 2, 3)),
                  "overdrive": bool(clk.get("overdrive", False)),
                  "boost": bool(clk.get("boost", False)),
                  "supply": str(clk.get("supply", "ldo"))},
        "console": console,
        "counter": counter,
        "i2c": stm32_i2c(board, series, pclk["apb1"]),
    }


class Stm32Family(CMakeFamily):
    """STM32 boards: bare-metal port, CMake + Ninja + arm-none-eabi-gcc."""

    name = "stm32"
    title = "STM32"
    source_dir = "src"
    tools = ("cmake", "ninja", "arm-none-eabi-gcc")
    toolchain_file = TOOLCHAIN_FILE
    tflm = TflmSupport("tree")
    qemu = "qemu-system-arm"

    def render_context(self, board: Board) -> dict[str, Any]:
        """The ``stm32`` template context: :func:`stm32_context`."""
        return stm32_context(board)

    def cross_build(self, board: Board) -> CrossBuild:
        """arm-none-eabi-g++ (or the one under $ARM_GCC_ROOT) with the board's CPU flags."""
        return CrossBuild(TOOLCHAIN_FILE, tuple(cpu_flags(board)), "arm-none-eabi-g++", "ARM_GCC_ROOT")


__all__ = ["Stm32Family", "stm32_context", "cpu_flags", "stm32_series", "TOOLCHAIN_FILE"]
