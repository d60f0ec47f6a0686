"""STM32 register facts per series (F4, L4/L4+, H7), from the reference manuals.

Sources: RM0390 (F446) / RM0090 (F405) §2.3 memory map, §6.3 RCC, §10/§12 vector table;
RM0351/RM0432 §2.2, §6.4, §12; RM0433 §2.3, §8.7, §19.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Series = Literal["f4", "l4", "h7"]

# Part-number prefix -> series whose register map the port uses.
SERIES_PREFIXES: tuple[tuple[str, Series], ...] = (("STM32F4", "f4"), ("STM32L4", "l4"),
                                                   ("STM32H7", "h7"))
# L4+ parts (RM0432): a different PLL input range and the range 1 boost mode.
L4_PLUS = ("L4R5", "L4R7", "L4R9", "L4S5", "L4S7", "L4S9", "L4P5", "L4Q5")


@dataclass(frozen=True)
class UartInstance:
    """A console-capable U(S)ART: register base, clock enable, bus, block kind, NVIC line."""

    base: int
    rcc_enr: str        # RCC enable register macro
    rcc_bit: int
    bus: Literal["apb1", "apb2"]
    kind: Literal["usart_v1", "usart_v2", "lpuart"]
    irq: int            # NVIC interrupt number


UARTS: dict[Series, dict[str, UartInstance]] = {
    "f4": {
        "USART1": UartInstance(0x4001_1000, "RCC_APB2ENR", 4, "apb2", "usart_v1", 37),
        "USART2": UartInstance(0x4000_4400, "RCC_APB1ENR", 17, "apb1", "usart_v1", 38),
        "USART3": UartInstance(0x4000_4800, "RCC_APB1ENR", 18, "apb1", "usart_v1", 39),
        "UART4": UartInstance(0x4000_4C00, "RCC_APB1ENR", 19, "apb1", "usart_v1", 52),
        "UART5": UartInstance(0x4000_5000, "RCC_APB1ENR", 20, "apb1", "usart_v1", 53),
        "USART6": UartInstance(0x4001_1400, "RCC_APB2ENR", 5, "apb2", "usart_v1", 71),
    },
    "l4": {
        "USART1": UartInstance(0x4001_3800, "RCC_APB2ENR", 14, "apb2", "usart_v2", 37),
        "USART2": UartInstance(0x4000_4400, "RCC_APB1ENR1", 17, "apb1", "usart_v2", 38),
        "USART3": UartInstance(0x4000_4800, "RCC_APB1ENR1", 18, "apb1", "usart_v2", 39),
        "UART4": UartInstance(0x4000_4C00, "RCC_APB1ENR1", 19, "apb1", "usart_v2", 52),
        "UART5": UartInstance(0x4000_5000, "RCC_APB1ENR1", 20, "apb1", "usart_v2", 53),
        "LPUART1": UartInstance(0x4000_8000, "RCC_APB1ENR2", 0, "apb1", "lpuart", 70),
    },
    "h7": {
        "USART1": UartInstance(0x4001_1000, "RCC_APB2ENR", 4, "apb2", "usart_v2", 37),
        "USART2": UartInstance(0x4000_4400, "RCC_APB1LENR", 17, "apb1", "usart_v2", 38),
        "USART3": UartInstance(0x4000_4800, "RCC_APB1LENR", 18, "apb1", "usart_v2", 39),
        "UART4": UartInstance(0x4000_4C00, "RCC_APB1LENR", 19, "apb1", "usart_v2", 52),
        "UART5": UartInstance(0x4000_5000, "RCC_APB1LENR", 20, "apb1", "usart_v2", 53),
        "USART6": UartInstance(0x4001_1400, "RCC_APB2ENR", 5, "apb2", "usart_v2", 71),
    },
}

# GPIO port A base (ports are 0x400 apart) and the RCC register enabling the GPIO ports.
GPIO: dict[Series, tuple[int, str]] = {
    "f4": (0x4002_0000, "RCC_AHB1ENR"),
    "l4": (0x4800_0000, "RCC_AHB2ENR"),
    "h7": (0x5802_0000, "RCC_AHB4ENR"),
}
# Peripheral interrupt lines in the vector table (largest device of the series we support).
IRQ_LINES: dict[Series, int] = {"f4": 97, "l4": 95, "h7": 150}

# Clock sources a board may name; oscillator frequencies fixed by silicon.
CLOCK_SOURCES = ("none", "hse", "hse_bypass", "hsi", "msi")
FIXED_OSC_HZ: dict[tuple[Series, str], int] = {("f4", "hsi"): 16_000_000, ("l4", "hsi"): 16_000_000,
                                               ("l4", "msi"): 4_000_000, ("h7", "hsi"): 64_000_000}
AHB_DIVS = (1, 2, 4, 8, 16, 64, 128, 256, 512)
APB_DIVS = (1, 2, 4, 8, 16)
# Core -> (-mcpu, -mfpu or None for soft float).
CORE_FLAGS: dict[str, tuple[str, str | None]] = {
    "cortex-m0plus": ("cortex-m0plus", None),
    "cortex-m3": ("cortex-m3", None),
    "cortex-m4": ("cortex-m4", None),
    "cortex-m4f": ("cortex-m4", "fpv4-sp-d16"),
    "cortex-m7f": ("cortex-m7", "fpv5-sp-d16"),
    "cortex-m7fd": ("cortex-m7", "fpv5-d16"),
    "cortex-m33f": ("cortex-m33", "fpv5-sp-d16"),
}


@dataclass(frozen=True)
class I2cInstance:
    """A v2 I2C block: register base, clock enable, and its kernel clock select field."""

    base: int
    rcc_enr: str
    rcc_bit: int
    sel_reg: str        # kernel clock select register; the field is written 0 = PCLK1
    sel_shift: int


# RM0351 RCC_CCIPR I2CxSEL; RM0433 RCC_D2CCIP2R I2C123SEL, shared by I2C1-3. Bases: memory map
# (RM0351 §2.2.2, RM0433 §2.3.2); enables: RCC_APB1ENR1 (RM0351) / RCC_APB1LENR (RM0433) I2CxEN.
# F4 has the v1 block (CR1.START, SR1/SR2, CCR/TRISE): no driver, so no entry.
I2C_INSTANCES: dict[Series, dict[str, I2cInstance]] = {
    "l4": {"I2C1": I2cInstance(0x4000_5400, "RCC_APB1ENR1", 21, "RCC_CCIPR", 12),
           "I2C2": I2cInstance(0x4000_5800, "RCC_APB1ENR1", 22, "RCC_CCIPR", 14),
           "I2C3": I2cInstance(0x4000_5C00, "RCC_APB1ENR1", 23, "RCC_CCIPR", 16)},
    "h7": {"I2C1": I2cInstance(0x4000_5400, "RCC_APB1LENR", 21, "RCC_D2CCIP2R", 12),
           "I2C2": I2cInstance(0x4000_5800, "RCC_APB1LENR", 22, "RCC_D2CCIP2R", 12),
           "I2C3": I2cInstance(0x4000_5C00, "RCC_APB1LENR", 23, "RCC_D2CCIP2R", 12)},
}

__all__ = ["Series", "SERIES_PREFIXES", "L4_PLUS", "UartInstance", "UARTS", "GPIO", "IRQ_LINES",
           "CLOCK_SOURCES", "FIXED_OSC_HZ", "AHB_DIVS", "APB_DIVS", "CORE_FLAGS", "I2cInstance",
           "I2C_INSTANCES"]
