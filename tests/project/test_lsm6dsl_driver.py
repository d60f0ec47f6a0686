"""The STM32 I2C master (firmware_templates/stm32/src/ek_i2c_v2.c) and the portable LSM6DSL
driver (firmware_templates/common/ek_lsm6dsl.c), compiled directly for the host with
-Wall -Wextra -Werror under ASan/UBSan, against a behavioural model of the v2 I2C block, a
GPIO port and an LSM6DSL (tests/fixtures/lsm6dsl_sim). The bus, pins and chip settings are
the B-L475E-IOT01A's, from its board file's render context.

The driver reads samples, checks WHO_AM_I, and answers a missing, stuck or wrong sensor with
one error code each, within bounded time, caching a failed setup; it clears a bus held low.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from edgekit.boards import load_board
from edgekit.project.families import stm32_context
from tests.firmware_sources import COMMON, STM32_SRC, build_sanitized

SIM = Path(__file__).resolve().parents[1] / "fixtures" / "lsm6dsl_sim"
SOURCES = [STM32_SRC / "ek_i2c_v2.c", STM32_SRC / "ek_gpio_stm32.c", COMMON / "ek_lsm6dsl.c",
           SIM / "model.c", SIM / "main.c"]
# RCC registers the port names for this board (RM0351 §6.4: RCC at 0x40021000), so the
# model can tell what the driver enabled.
RM0351_RCC = {"RCC_APB1ENR1": 0x4002_1058, "RCC_CCIPR": 0x4002_1088, "RCC_AHB2ENR": 0x4002_104C}

Sim = Callable[[str], dict[str, list[str]]]


def board_defines(board_id: str = "b-l475e-iot01a") -> dict[str, int]:
    """-D values for the model: the board's one I2C bus and one LSM6DSL, from stm32_context."""
    ctx = stm32_context(load_board(board_id))
    (bus,), (chip,) = ctx["i2c"]["buses"], ctx["i2c"]["chips"]
    sensors = {ctx["i2c"]["sensors"][sid]["ctrl_reg"]: ctx["i2c"]["sensors"][sid] for sid in chip["sensors"]}
    assert bus["scl"]["port_index"] == bus["sda"]["port_index"]
    return {
        "SIM_I2C_BASE": bus["base"], "SIM_TIMINGR": bus["timing"]["value"],
        "SIM_RCC_ENR": RM0351_RCC[bus["rcc_enr"]], "SIM_RCC_BIT": bus["rcc_bit"],
        "SIM_SEL_REG": RM0351_RCC[bus["sel_reg"]], "SIM_SEL_SHIFT": bus["sel_shift"],
        "SIM_GPIO_A_BASE": ctx["console"]["gpio_base"], "SIM_GPIO_ENR": RM0351_RCC[ctx["console"]["gpio_enr"]],
        "SIM_GPIO_PORT": bus["scl"]["port_index"], "SIM_SCL_PIN": bus["scl"]["pin"],
        "SIM_SDA_PIN": bus["sda"]["pin"], "SIM_AF": bus["af"], "SIM_DEV_ADDR": chip["address"],
        "SIM_CTRL1_XL": sensors["CTRL1_XL"]["ctrl_value"], "SIM_CTRL2_G": sensors["CTRL2_G"]["ctrl_value"],
        "SIM_ACCEL_NUM": sensors["CTRL1_XL"]["scale_num"], "SIM_ACCEL_DEN": sensors["CTRL1_XL"]["scale_den"],
        "SIM_GYRO_NUM": sensors["CTRL2_G"]["scale_num"], "SIM_GYRO_DEN": sensors["CTRL2_G"]["scale_den"],
    }


@pytest.fixture(scope="module")
def driver_sim(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    """run(scenario) -> {first word of each output line: the rest}."""
    defines = [f"-D{k}={v:#x}u" for k, v in board_defines().items()]
    exe = build_sanitized(tmp_path_factory.mktemp("lsm6dsl_sim") / "lsm6dsl_sim", SOURCES,
                          [COMMON, STM32_SRC, SIM], "-DEK_MMIO_HOOKS", *defines)

    def run(scenario: str) -> dict[str, list[str]]:
        done = subprocess.run([str(exe), scenario], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr          # ASan/UBSan findings abort
        result: dict[str, list[str]] = {}
        for line in done.stdout.splitlines():
            key, *rest = line.split()
            result.setdefault(key, []).extend(rest)
        return result

    return run


def _read(result: dict[str, list[str]], tag: str) -> tuple[int, int, list[int]]:
    rc, us, *values = result[tag]
    return int(rc), int(us.removeprefix("us=")), [int(v) for v in values]


def test_board_values_come_from_the_board_file() -> None:
    d = board_defines()
    assert (d["SIM_I2C_BASE"], d["SIM_TIMINGR"], d["SIM_DEV_ADDR"]) == (0x4000_5800, 0x10F91745, 0x6A)
    assert (d["SIM_GPIO_PORT"], d["SIM_SCL_PIN"], d["SIM_SDA_PIN"], d["SIM_AF"]) == (1, 10, 11, 4)
    assert (d["SIM_CTRL1_XL"], d["SIM_CTRL2_G"]) == (0x60, 0x6C)


def test_driver_reads_both_sensors_through_the_model(driver_sim: Sim) -> None:
    r = driver_sim("ok")
    assert "error" not in r, r["error"]
    # mg = raw * 0.061, rounded: 16393 -> 1000, -32768 -> -1999, 32767 -> 1999.
    assert _read(r, "accel")[::2] == (3, [1000, -1999, 1999])
    assert _read(r, "accel2")[::2] == (3, [1000, -1999, 1999])
    # deci_dps = raw * 70 mdps / 100: 1000 -> 700, -1000 -> -700.
    assert _read(r, "gyro")[::2] == (3, [700, -700, 0])
    # Setup: SW_RESET, then BDU | IF_INC, then the two CTRL registers; once, not per read.
    assert r["writes"] == ["12=01", "12=44", "10=60", "11=6C"]
    assert r["timingr"] == ["0x10F91745"]
    enr, sel = int(r["rcc"][1], 16), int(r["rcc"][3], 16)
    assert enr & (1 << 22) and (sel >> 14) & 3 == 0       # I2C2EN, I2C2SEL = PCLK1
    moder, otyper, pupdr, _afrl, afrh = (int(v, 16) for v in r["gpio"][1::2])
    assert (moder >> 20) & 0xF == 0b1010                 # PB10, PB11 alternate function
    assert otyper & (3 << 10) == 3 << 10                 # open-drain
    assert (pupdr >> 20) & 0xF == 0b0101                 # pull-up
    assert (afrh >> 8) & 0xFF == 0x44                    # AF4 on pins 10 and 11
    assert int(r["gpio_clock"][0], 16) & (1 << 1)        # GPIOB clocked
    assert r["scl_pulses"] == ["0"]                      # idle bus: no bus clear needed


@pytest.mark.parametrize("scenario, code", [("absent", -4), ("stuck", -5), ("berr", -6),
                                            ("wrong_id", -7)])
def test_driver_failures_are_quick_distinct_and_cached(driver_sim: Sim, scenario: str,
                                                       code: int) -> None:
    r = driver_sim(scenario)
    assert "error" not in r, r["error"]
    rc, us, _ = _read(r, "accel")
    assert rc == code
    # Bounded: the bus clear plus at most one 1 ms wait (the stuck bus) per setup.
    assert us < 1200, us
    rc2, us2, _ = _read(r, "accel2")
    assert rc2 == code and us2 < 5, us2                  # the cached setup failure
    assert _read(r, "gyro")[0] == code                   # same chip, same answer
    assert r["writes"] == []                             # nothing configured


def test_driver_recovers_after_a_failed_read(driver_sim: Sim) -> None:
    r = driver_sim("glitch")
    assert "error" not in r, r["error"]
    assert _read(r, "lost")[0] == -4                     # the sensor stopped answering
    assert _read(r, "back")[::2] == (3, [1000, -1999, 1999])   # set up again on the next read
    assert r["writes"] == ["12=01", "12=44", "10=60", "11=6C"] * 2


def test_driver_clears_a_bus_held_low(driver_sim: Sim) -> None:
    r = driver_sim("sda_low")
    assert "error" not in r, r["error"]
    assert r["scl_pulses"] == ["3"]                      # clocked until SDA was let go
    assert _read(r, "accel")[::2] == (3, [1000, -1999, 1999])
