"""Real sensors on STM32 boards: the LSM6DSL on the B-L475E-IOT01A's I2C2.

No hardware here, so this proves what can be proved without it:
- every STM32 board renders and builds (arm-none-eabi-gcc, -Wall -Wextra -Werror), and only a
  board whose sensor entries ask for an I2C sensor gets the I2C driver;
- the register values the template writes (I2C_TIMINGR, LSM6DSL CTRL registers, sample
  scaling) equal values derived here from the reference manual and datasheet, and the
  TIMINGR fields meet the I2C-bus timing limits;
- the generated driver code itself, compiled for the host against a behavioural model of the
  v2 I2C block and an LSM6DSL, reads samples, checks WHO_AM_I, and answers a missing, stuck
  or wrong sensor with one error code each, within bounded time, caching a failed setup;
- an F4 board (v1 I2C block) asking for an I2C sensor is a clear BoardError.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Callable

import pytest

from edgekit.boards import Board, load_board, parse_board
from edgekit.errors import BoardError
from edgekit.project import build_project, render_project
from edgekit.project.render import collect_files, stm32_context

REPO = Path(__file__).resolve().parents[2]
BOARDS = REPO / "boards"
from tests.project.test_stm32_qemu import FIXTURE, SHA, STM32_BOARDS, needs_arm  # noqa: E402
needs_host_cxx = pytest.mark.skipif(shutil.which("g++") is None, reason="needs a host g++")

# An X-NUCLEO-IKS01A2-style LSM6DSL on the Arduino connector of a Nucleo-144 board:
# D15 = PB8 = I2C1_SCL, D14 = PB9 = I2C1_SDA, AF4 (L4R5/H743/F446 datasheets' AF tables).
SHIELD = """
[[sensors]]
id = "imu_accel"
kind = "accelerometer"
part = "LSM6DSL"
axes = 3
units = "mg"
max_rate_hz = {rate}
bus = "I2C1"
address = 0x6B
scl = "PB8"
sda = "PB9"
af = 4
bus_hz = {bus_hz}
full_scale = 4
"""


def shield_board(tmp_path: Path, base: str, *, rate: int = 104, bus_hz: int = 100_000,
                 extra: str = "") -> Board:
    """A shipped board file plus an I2C LSM6DSL entry, as a board file of its own."""
    text = (BOARDS / f"{base}.toml").read_text() + SHIELD.format(rate=rate, bus_hz=bus_hz) + extra
    path = tmp_path / f"{base}.toml"
    path.write_text(text)
    return parse_board(path)


def l475_variant(tmp_path: Path, edit: Callable[[str], str]) -> Board:
    text = edit((BOARDS / "b-l475e-iot01a.toml").read_text())
    path = tmp_path / "b-l475e-iot01a.toml"
    path.write_text(text)
    return parse_board(path)


def render_files(board: Board) -> dict[str, str]:
    files, _ = collect_files(
        board, model_sources={n: (FIXTURE / n).read_text() for n in ("edgekit_model.h", "edgekit_model.c")},
        extra_sources={"ek_app.c": (FIXTURE / "ek_app.c").read_text()},
        context={"model_sha256": SHA}, common_files=["ek_port.h"])
    return {k: v.decode() for k, v in files.items()}


# ------------------------------------------------------------------ render: who gets the driver
@pytest.mark.parametrize("board_id", STM32_BOARDS)
def test_only_the_board_with_an_i2c_sensor_gets_the_driver(board_id: str) -> None:
    board = load_board(board_id)
    files = render_files(board)
    port, header = files["src/ek_port_stm32.c"], files["src/ek_board.h"]
    drives = board_id == "b-l475e-iot01a"
    for marker in ("I2C master, v2 I2C block", "static int i2c_read_regs(", "LSM6DSL_WHO_AM_I",
                   "I2C2_TIMINGR"):
        assert (marker in port) == drives, marker
    # Sensor macros for every board, and one error code per failure.
    assert re.search(rf"#define EK_SENSOR_COUNT\s+{len(board.sensors)}u", header)
    for s_index, s in enumerate(board.sensors):
        macro = s.id.upper()
        assert re.search(rf"#define EK_SENSOR_{macro}\s+{s_index}u", header)
        assert re.search(rf"#define EK_SENSOR_{macro}_AXES\s+{s.axes}u", header)
    codes = dict(re.findall(r"#define (EK_SENSOR_ERR_\w+)\s+\((-\d+)\)", header))
    assert codes == {"EK_SENSOR_ERR_NO_SUCH": "-1", "EK_SENSOR_ERR_UNSUPPORTED": "-2",
                     "EK_SENSOR_ERR_BUFFER": "-3", "EK_SENSOR_ERR_NACK": "-4",
                     "EK_SENSOR_ERR_TIMEOUT": "-5", "EK_SENSOR_ERR_BUS": "-6",
                     "EK_SENSOR_ERR_WRONG_ID": "-7"}
    if board_id == "qemu-netduinoplus2":
        assert "return synth_accel(out);" in port and "return synth_vibration(out);" in port


def test_b_l475_dispatch_reads_the_lsm6dsl_and_leaves_the_rest_unsupported() -> None:
    port = render_files(load_board("b-l475e-iot01a"))["src/ek_port_stm32.c"]
    read = port[port.index("int ek_port_sensor_read("):]
    read = read[:read.index("\n}\n")]
    cases = {}   # each case: the buffer-size check, then what it really returns
    for chunk in read.split("    default:")[0].split("case EK_SENSOR_")[1:]:
        cases[chunk.split(":", 1)[0]] = re.findall(r"return (\w+)", chunk)[-1]
    assert cases == {"ACCEL": "lsm6dsl_i2c2_6a_read", "GYRO": "lsm6dsl_i2c2_6a_read",
                     "MAGNETOMETER": "EK_SENSOR_ERR_UNSUPPORTED",
                     "PRESSURE": "EK_SENSOR_ERR_UNSUPPORTED",
                     "HUMIDITY": "EK_SENSOR_ERR_UNSUPPORTED",
                     "DISTANCE": "EK_SENSOR_ERR_UNSUPPORTED",
                     "MICROPHONE": "EK_SENSOR_ERR_UNSUPPORTED"}


# ------------------------------------------------------------------ register values
# I2C-bus limits (UM10204 table 10), ns: tLOW, tHIGH, tSU;DAT min; tVD;DAT, tr, tf max.
SPEC = {100_000: (4700, 4000, 250, 3450, 1000, 300), 400_000: (1300, 600, 100, 900, 300, 300)}
T_AF = (50, 260)   # analog filter delay, ns


def check_timingr(kernel_hz: int, bus_hz: int, timingr: int) -> None:
    """The RM0351 §39.4.5 inequalities for TIMINGR's fields (analog filter on, DNF = 0)."""
    presc, scldel, sdadel = timingr >> 28, (timingr >> 20) & 0xF, (timingr >> 16) & 0xF
    sclh, scll = (timingr >> 8) & 0xFF, timingr & 0xFF
    assert (timingr >> 24) & 0xF == 0, "reserved bits"
    t_low, t_high, t_su, t_vd, t_r, t_f = SPEC[bus_hz]
    t_clk = Fraction(10**9, kernel_hz)
    t_p = (presc + 1) * t_clk
    # Data setup: tSCLDEL = (SCLDEL + 1) tPRESC >= tr(max) + tSU;DAT(min).
    assert (scldel + 1) * t_p >= t_r + t_su
    # Data hold: tf(max) - tAF(min) - 3 tI2CCLK <= SDADEL tPRESC <= tVD;DAT - tr - tAF(max) - 4 tI2CCLK.
    assert sdadel * t_p >= t_f - T_AF[0] - 3 * t_clk
    assert sdadel * t_p <= t_vd - t_r - T_AF[1] - 4 * t_clk
    # SCL low/high phases at least the bus minimum even before the synchronisation delays.
    assert (scll + 1) * t_p >= t_low and (sclh + 1) * t_p >= t_high
    # Period: never faster than bus_hz even with the shortest synchronisation (tAF(min) +
    # 2 tI2CCLK per edge), and not slower than 60 % of it with the standard's worst edges.
    core = (scll + 1 + sclh + 1) * t_p
    assert core + 2 * (T_AF[0] + 2 * t_clk) >= Fraction(10**9, bus_hz)
    slowest = core + (t_f + T_AF[1] + 3 * t_clk) + (t_r + T_AF[1] + 3 * t_clk)
    assert Fraction(10**9) / slowest >= Fraction(6, 10) * bus_hz


def test_b_l475_timingr_from_the_reference_manual() -> None:
    """I2C2 at 400 kHz from PCLK1 = 80 MHz (tI2CCLK = 12.5 ns), derived by hand:
    PRESC 0 (12.5 ns) would need SCLDEL = (300 + 100) / 12.5 - 1 = 31 > 15; PRESC 1: tPRESC 25 ns,
    SCLDEL = 400 / 25 - 1 = 15; SDADEL >= (300 - 50 - 37.5) / 25 = 8.5 -> 9 (<= (900 - 300 - 260
    - 50) / 25 = 11.6); SCLH = 600 / 25 - 1 = 23; SCLL: 1300 / 25 = 52 cycles, stretched so that
    (SCLL + 1 + SCLH + 1) * 25 + 2 * (50 + 25) >= 2500 ns: 94 cycles in all, SCLL = 94 - 24 - 1 = 69.
    """
    expected = (1 << 28) | (15 << 20) | (9 << 16) | (23 << 8) | 69
    assert expected == 0x10F91745
    ctx = stm32_context(load_board("b-l475e-iot01a"))
    (bus,) = ctx["i2c"]["buses"]
    assert (bus["name"], bus["kernel_hz"], bus["bus_hz"]) == ("I2C2", 80_000_000, 400_000)
    assert bus["timing"]["value"] == expected
    check_timingr(80_000_000, 400_000, expected)
    port = render_files(load_board("b-l475e-iot01a"))["src/ek_port_stm32.c"]
    assert re.search(r"#define I2C2_TIMINGR\s+0x10F91745u", port)
    assert re.search(r"#define I2C2_BASE\s+0x40005800u", port)          # RM0351 memory map
    assert "RCC_APB1ENR1 |= 1u << 22;" in port                         # I2C2EN
    assert "RCC_CCIPR &= ~(3u << 14);" in port                         # I2C2SEL = PCLK1
    assert "i2c_pin(1u, 10u, 4);" in port and "i2c_pin(1u, 11u, 4);" in port   # PB10/PB11 AF4


@pytest.mark.parametrize("kernel_hz", [4_000_000, 16_000_000, 48_000_000, 80_000_000,
                                       100_000_000, 120_000_000, 200_000_000])
@pytest.mark.parametrize("bus_hz", [100_000, 400_000])
def test_timingr_meets_the_bus_limits(kernel_hz: int, bus_hz: int) -> None:
    from edgekit.project.render import i2c_timingr
    timing = i2c_timingr(kernel_hz, bus_hz)
    if kernel_hz < 9_000_000 and bus_hz == 400_000:
        assert timing is None   # no setting meets fast mode at worst-case edges
        return
    assert timing is not None
    check_timingr(kernel_hz, bus_hz, timing["value"])


def test_lsm6dsl_register_writes_from_the_datasheet() -> None:
    """LSM6DSL datasheet (DS11503): ODR code 0110 = 416 Hz (CTRL1_XL/CTRL2_G [7:4]); FS_XL 00 =
    +-2 g; FS_G 11 = +-2000 dps; CTRL3_C BDU (bit 6) | IF_INC (bit 2); sensitivities 0.061 mg/LSB
    (+-2 g) and 70 mdps/LSB (+-2000 dps); WHO_AM_I (0x0F) = 0x6A; OUTX_L_G 0x22, OUTX_L_XL 0x28."""
    ctrl1_xl = (0b0110 << 4) | (0b00 << 2)
    ctrl2_g = (0b0110 << 4) | (0b11 << 2)
    accel_scale = Fraction(61, 1000)                  # mg per LSB
    gyro_scale = Fraction(70, 1000) * 10              # mdps/LSB -> deci_dps (0.1 dps) per LSB
    port = render_files(load_board("b-l475e-iot01a"))["src/ek_port_stm32.c"]

    def define(name: str) -> int:
        m = re.search(rf"#define {name}\s+(0x[0-9A-Fa-f]+|\(1u << \d+\))", port)
        assert m, name
        v = m.group(1)
        return int(v, 16) if v.startswith("0x") else 1 << int(re.search(r"<< (\d+)", v).group(1))

    assert (define("LSM6DSL_WHO_AM_I"), define("LSM6DSL_WHO_AM_I_VALUE")) == (0x0F, 0x6A)
    assert (define("LSM6DSL_CTRL1_XL"), define("LSM6DSL_CTRL2_G"), define("LSM6DSL_CTRL3_C")) == \
        (0x10, 0x11, 0x12)
    assert (define("LSM6DSL_OUTX_L_G"), define("LSM6DSL_OUTX_L_XL")) == (0x22, 0x28)
    assert define("LSM6DSL_CTRL3_C_BDU") | define("LSM6DSL_CTRL3_C_IF_INC") == 0x44
    assert define("LSM6DSL_I2C2_6A_ADDR") == 0x6A
    writes = dict(re.findall(r"LSM6DSL_(CTRL1_XL|CTRL2_G), (0x[0-9A-F]{2})u\)", port))
    assert {k: int(v, 16) for k, v in writes.items()} == {"CTRL1_XL": ctrl1_xl, "CTRL2_G": ctrl2_g}
    assert f"lsm6dsl_i2c2_6a_read(LSM6DSL_OUTX_L_XL, out, {accel_scale.numerator}, " \
           f"{accel_scale.denominator})" in port
    assert f"lsm6dsl_i2c2_6a_read(LSM6DSL_OUTX_L_G, out, {gyro_scale.numerator}, " \
           f"{gyro_scale.denominator})" in port
    # The full scale in the file's units fits an int16 sample.
    assert math.ceil(32768 * accel_scale) <= 32767 and math.ceil(32768 * gyro_scale) <= 32767


def test_shield_variant_register_values(tmp_path: Path) -> None:
    """L4+ at 120 MHz PCLK1, 100 kHz, +-4 g (0.122 mg/LSB, FS_XL 10), 104 Hz (ODR 0100)."""
    board = shield_board(tmp_path, "nucleo-l4r5zi", rate=100, bus_hz=100_000)
    ctx = stm32_context(board)["i2c"]
    (bus,) = ctx["buses"]
    assert (bus["name"], bus["base"], bus["rcc_bit"], bus["sel_shift"]) == ("I2C1", 0x4000_5400, 21, 12)
    check_timingr(120_000_000, 100_000, bus["timing"]["value"])
    s = ctx["sensors"]["imu_accel"]
    assert s["ctrl_value"] == (0b0100 << 4) | (0b10 << 2) and s["odr_hz"] == "104"
    assert Fraction(s["scale_num"], s["scale_den"]) == Fraction(122, 1000)


# ------------------------------------------------------------------ board file errors
def test_f4_board_asking_for_an_i2c_sensor_is_a_board_error(tmp_path: Path) -> None:
    board = shield_board(tmp_path, "nucleo-f446re")
    with pytest.raises(BoardError, match=r"sensors\[0\]\.bus.*v2 I2C.*STM32F4 has the older v1 I2C"):
        render_files(board)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('scl = "PB10"\n', "", 1), r"field 'sensors\[0\]\.scl' is missing"),
    (lambda t: t.replace('scl = "PB10"', 'scl = "B10"', 1), r"sensors\[0\]\.scl' is 'B10'"),
    (lambda t: t.replace("af = 4", "af = 16", 1), r"sensors\[0\]\.af' is 16"),
    (lambda t: t.replace("bus_hz = 400_000", "bus_hz = 1_000_000", 1), r"sensors\[0\]\.bus_hz"),
    (lambda t: t.replace("full_scale = 2 ", "full_scale = 3 ", 1), r"sensors\[0\]\.full_scale' is 3"),
    (lambda t: t.replace('units = "deci_dps"', 'units = "mdps"', 1),
     r"sensors\[1\]\.units' 'mdps' at full scale 2000 .* does not fit an int16"),
    (lambda t: t.replace('af = 4\nbus_hz = 400_000\nfull_scale = 2000', 'af = 5\nbus_hz = 400_000\n'
                         'full_scale = 2000', 1), r"sensors\[1\]\.af' differs from sensor 'accel'"),
    (lambda t: t.replace('bus = "I2C2"', 'bus = "I2C4"', 1), r"sensors\[0\]\.bus' is 'I2C4'"),
    (lambda t: t.replace("address = 0x6A       #", "address = 0x1FF      #", 1),
     r"sensors\[0\]\.address' is 511"),
])
def test_bad_sensor_fields_are_board_errors(tmp_path: Path, edit: Callable[[str], str],
                                            message: str) -> None:
    board = l475_variant(tmp_path, edit)
    with pytest.raises(BoardError, match=message):
        stm32_context(board)


# ------------------------------------------------------------------ build
@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sensor_fw")


def _build(board: Board, out: Path) -> Path:
    project = render_project(
        board, out,
        model_sources={n: (FIXTURE / n).read_text() for n in ("edgekit_model.h", "edgekit_model.c")},
        extra_sources={"ek_app.c": (FIXTURE / "ek_app.c").read_text()},
        context={"model_sha256": SHA}, common_files=["ek_port.h"])
    result = build_project(project, board, jobs=2)
    assert result.elf.is_file()
    return project


@needs_arm
@pytest.mark.parametrize("board_id", STM32_BOARDS)
def test_every_stm32_board_builds_with_werror(board_id: str, build_dir: Path) -> None:
    project = _build(load_board(board_id), build_dir / board_id)
    port = (project / "src" / "ek_port_stm32.c").read_text()
    assert ("i2c_read_regs" in port) == (board_id == "b-l475e-iot01a")


@needs_arm
@pytest.mark.parametrize("base", ["nucleo-l4r5zi", "nucleo-h743zi"])
def test_shield_variants_build(base: str, tmp_path: Path) -> None:
    """The driver on I2C1 of an L4+ and an H7 (RCC_D2CCIP2R, RCC_APB1LENR) compiles too."""
    board = shield_board(tmp_path, base, rate=416, bus_hz=400_000)
    project = _build(board, tmp_path / "fw")
    port = (project / "src" / "ek_port_stm32.c").read_text()
    assert "lsm6dsl_i2c1_6b_read(LSM6DSL_OUTX_L_XL, out, 61, 500)" in port   # 0.122 mg/LSB
    assert ("RCC_D2CCIP2R &= ~(3u << 12);" in port) == (base == "nucleo-h743zi")


# ------------------------------------------------------------------ the driver against a model
# The generated I2C + LSM6DSL code, compiled for the host as C++: REG32 becomes a proxy whose
# reads and writes go to a model of the STM32L4 I2C2 block (RM0351 §39: CR2 START/NBYTES/
# AUTOEND/RD_WRN, ISR TXIS/RXNE/TC/NACKF/STOPF, ICR, TIMINGR writable only with PE = 0), of
# GPIOB (open-drain, BSRR, IDR) and of an LSM6DSL (register pointer, IF_INC auto-increment,
# SW_RESET). ek_port_cycles() advances 40 cycles per call (80 MHz core).
HARNESS = r"""
#include <cstdint>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>
#include "ek_board.h"

static uint32_t sim_read(uint32_t addr);
static void sim_write(uint32_t addr, uint32_t value);
struct Reg {
    uint32_t addr;
    operator uint32_t() const { return sim_read(addr); }
    Reg &operator=(uint32_t v) { sim_write(addr, v); return *this; }
    Reg &operator|=(uint32_t v) { sim_write(addr, sim_read(addr) | v); return *this; }
    Reg &operator&=(uint32_t v) { sim_write(addr, sim_read(addr) & v); return *this; }
};
#define REG32(addr) (Reg{(uint32_t)(addr)})
#define RCC_AHB2ENR  REG32(0x4002104Cu)
#define RCC_APB1ENR1 REG32(0x40021058u)
#define RCC_CCIPR    REG32(0x40021088u)

static uint64_t cycles;
uint32_t ek_port_cycles(void) { cycles += 40; return (uint32_t)cycles; }

enum Fault { NONE, ABSENT, STUCK, WRONG_ID, BERR, SDA_LOW };
static Fault fault = NONE;
static std::map<uint32_t, uint32_t> mem;
static std::vector<std::string> errors;
static const uint32_t I2C = 0x40005800u, GPIOB = 0x48000400u;
static uint32_t cr1, cr2, timingr, isr, rxdr;
static unsigned nbytes, done;
static bool reading, autoend;
static int scl_pulses, sda_released_after = 3;
static uint8_t dev[128];
static int dev_ptr = -1, sw_reset_reads;
static std::vector<std::pair<int, int>> dev_writes;

static void dev_byte(uint8_t b)
{
    if (dev_ptr < 0) { dev_ptr = b & 0x7F; return; }
    dev[dev_ptr] = b;
    dev_writes.push_back({dev_ptr, b});
    if (dev_ptr == 0x12 && (b & 1u)) { dev[0x12] = 0x05; sw_reset_reads = 1; }
    if (dev[0x12] & 0x04) dev_ptr = (dev_ptr + 1) & 0x7F;
}
static uint8_t dev_next(void)
{
    uint8_t v = dev[dev_ptr];
    if (dev_ptr == 0x12 && sw_reset_reads && --sw_reset_reads == 0) dev[0x12] = 0x04;
    if (dev[0x12] & 0x04) dev_ptr = (dev_ptr + 1) & 0x7F;
    return v;
}
static void finish(void) { isr |= autoend ? (1u << 5) : (1u << 6); }
static void start(uint32_t v)
{
    if (!(cr1 & 1u)) { errors.push_back("START with PE = 0"); return; }
    if (timingr == 0u) errors.push_back("START before TIMINGR");
    nbytes = (v >> 16) & 0xFFu; done = 0; reading = v & (1u << 10); autoend = v & (1u << 25);
    isr &= ~(1u << 6);
    if (fault == STUCK) return;
    if (fault == BERR) { isr |= 1u << 8; return; }
    if (fault == ABSENT || ((v >> 1) & 0x7Fu) != 0x6Au) { isr |= (1u << 4) | (1u << 5); return; }
    if (reading) { rxdr = dev_next(); isr |= 1u << 2; }
    else { dev_ptr = -1; isr |= 1u << 1; }
}
static uint32_t sim_read(uint32_t a)
{
    if (a == I2C + 0x00u) return cr1;
    if (a == I2C + 0x04u) return cr2;
    if (a == I2C + 0x10u) return timingr;
    if (a == I2C + 0x18u) return isr | (fault == STUCK ? (1u << 15) : 0u);
    if (a == I2C + 0x24u) {
        uint32_t v = rxdr;
        if (!(isr & (1u << 2))) errors.push_back("RXDR read without RXNE");
        isr &= ~(1u << 2);
        if (++done < nbytes) { rxdr = dev_next(); isr |= 1u << 2; } else finish();
        return v;
    }
    if (a == GPIOB + 0x10u) {   /* IDR: open-drain pins read what the bus does */
        uint32_t odr = mem[GPIOB + 0x14u], idr = odr | ~((1u << 10) | (1u << 11));
        bool sda_held = fault == SDA_LOW && scl_pulses < sda_released_after;
        if (sda_held) idr &= ~(1u << 11);
        return idr;
    }
    return mem[a];
}
static void sim_write(uint32_t a, uint32_t v)
{
    if (a == I2C + 0x00u) {
        if (!(v & 1u)) { isr = 0; }   /* PE = 0: software reset clears the state */
        cr1 = v; return;
    }
    if (a == I2C + 0x04u) { cr2 = v & ~(1u << 13); if (v & (1u << 13)) start(v); return; }
    if (a == I2C + 0x10u) { if (cr1 & 1u) errors.push_back("TIMINGR written with PE = 1"); timingr = v; return; }
    if (a == I2C + 0x1Cu) { isr &= ~(v & 0x3F38u); return; }
    if (a == I2C + 0x28u) {
        if (!(isr & (1u << 1))) { errors.push_back("TXDR written without TXIS"); return; }
        isr &= ~(1u << 1);
        dev_byte((uint8_t)v);
        if (++done < nbytes) isr |= 1u << 1; else finish();
        return;
    }
    if (a == GPIOB + 0x00u) {
        for (int pin = 10; pin <= 11; pin++) {
            bool drives = ((v >> (2 * pin)) & 3u) != 0u;
            if (drives && !(mem[GPIOB + 0x04u] & (1u << pin)))
                errors.push_back("PB" + std::to_string(pin) + " driven while push-pull");
        }
    }
    if (a == GPIOB + 0x18u) {   /* BSRR */
        uint32_t before = mem[GPIOB + 0x14u];
        uint32_t after = (before | (v & 0xFFFFu)) & ~(v >> 16);
        bool scl_output = ((mem[GPIOB] >> 20) & 3u) == 1u;
        if (scl_output && !(before & (1u << 10)) && (after & (1u << 10))) scl_pulses++;
        mem[GPIOB + 0x14u] = after;
        return;
    }
    mem[a] = v;
}
"""

HARNESS_MAIN = r"""
static void set_xyz(int reg, int x, int y, int z)
{
    int v[3] = {x, y, z};
    for (int i = 0; i < 3; i++) { dev[reg + 2 * i] = (uint8_t)(v[i] & 0xFF); dev[reg + 2 * i + 1] = (uint8_t)((v[i] >> 8) & 0xFF); }
}
static void do_read(const char *tag, uint8_t id, size_t max_values = 8)
{
    int16_t out[8] = {0};
    uint64_t t0 = cycles;
    int rc = ek_port_sensor_read(id, out, max_values);
    printf("%s %d us=%llu", tag, rc, (unsigned long long)((cycles - t0) / 80u));
    for (int i = 0; i < rc; i++) printf(" %d", out[i]);
    printf("\n");
}
int main(int argc, char **argv)
{
    std::string scenario = argc > 1 ? argv[1] : "ok";
    dev[0x0F] = 0x6A; dev[0x12] = 0x04;
    set_xyz(0x28, 16393, -32768, 32767);   /* accel raw */
    set_xyz(0x22, 1000, -1000, 0);         /* gyro raw */
    if (scenario == "absent") fault = ABSENT;
    if (scenario == "stuck") fault = STUCK;
    if (scenario == "wrong_id") fault = WRONG_ID, dev[0x0F] = 0x69;
    if (scenario == "berr") fault = BERR;
    if (scenario == "sda_low") fault = SDA_LOW;
    do_read("accel", EK_SENSOR_ACCEL);
    do_read("accel2", EK_SENSOR_ACCEL);
    if (scenario == "glitch") {
        fault = ABSENT; do_read("lost", EK_SENSOR_ACCEL);
        fault = NONE; do_read("back", EK_SENSOR_ACCEL);
    }
    do_read("gyro", EK_SENSOR_GYRO);
    do_read("small", EK_SENSOR_ACCEL, 2);
    do_read("magnetometer", EK_SENSOR_MAGNETOMETER);
    do_read("nosuch", 42);
    printf("timingr 0x%08X\n", timingr);
    printf("rcc apb1enr1 0x%08X ccipr 0x%08X\n", mem[0x40021058u], mem[0x40021088u]);
    printf("gpiob moder 0x%08X otyper 0x%08X pupdr 0x%08X afrh 0x%08X\n", mem[GPIOB], mem[GPIOB + 4u],
           mem[GPIOB + 0x0Cu], mem[GPIOB + 0x24u]);
    printf("scl_pulses %d\n", scl_pulses);
    printf("writes");
    for (auto &w : dev_writes) printf(" %02X=%02X", w.first, w.second);
    printf("\n");
    for (auto &e : errors) printf("error %s\n", e.c_str());
    return 0;
}
"""


Sim = Callable[[str], dict[str, list[str]]]


@pytest.fixture(scope="module")
def driver_sim(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    """run(scenario) -> {first word of each output line: the rest}, from the generated code."""
    if shutil.which("g++") is None:
        pytest.skip("needs a host g++")
    files = render_files(load_board("b-l475e-iot01a"))
    port = files["src/ek_port_stm32.c"]
    gpio_af = re.search(r"static void gpio_af\(.*?\n}\n", port, re.DOTALL).group(0)
    driver = port[port.index("/* ---- I2C master"):port.index("/* ----------------------------------"
                                                               "-------------------------------- exit")]
    root = tmp_path_factory.mktemp("driver_sim")
    (root / "ek_board.h").write_text(files["src/ek_board.h"])
    (root / "sim.cpp").write_text(HARNESS + gpio_af + driver + HARNESS_MAIN)
    subprocess.run(["g++", "-std=c++17", "-O1", "-w", "-I", str(root), "-o", str(root / "sim"),
                    str(root / "sim.cpp")], check=True, capture_output=True, text=True)

    def run(scenario: str) -> dict[str, list[str]]:
        out = subprocess.run([str(root / "sim"), scenario], check=True, capture_output=True,
                             text=True, timeout=60).stdout
        result: dict[str, list[str]] = {}
        for line in out.splitlines():
            key, *rest = line.split()
            result.setdefault(key, []).extend(rest)
        return result

    return run


def _read(result: dict[str, list[str]], tag: str) -> tuple[int, int, list[int]]:
    rc, us, *values = result[tag]
    return int(rc), int(us.removeprefix("us=")), [int(v) for v in values]


@needs_host_cxx
def test_driver_reads_both_sensors_through_the_model(driver_sim: Sim) -> None:
    r = driver_sim("ok")
    assert "error" not in r, r["error"]
    # mg = raw * 0.061, rounded: 16393 -> 1000, -32768 -> -1999, 32767 -> 1999.
    assert _read(r, "accel")[::2] == (3, [1000, -1999, 1999])
    assert _read(r, "accel2")[::2] == (3, [1000, -1999, 1999])
    # deci_dps = raw * 70 mdps / 100: 1000 -> 700, -1000 -> -700.
    assert _read(r, "gyro")[::2] == (3, [700, -700, 0])
    assert _read(r, "small")[0] == -3 and _read(r, "magnetometer")[0] == -2
    assert _read(r, "nosuch")[0] == -1
    # Setup: SW_RESET, then BDU | IF_INC, then the two CTRL registers; once, not per read.
    assert r["writes"] == ["12=01", "12=44", "10=60", "11=6C"]
    assert r["timingr"] == ["0x10F91745"]
    apb1enr1, ccipr = int(r["rcc"][1], 16), int(r["rcc"][3], 16)
    assert apb1enr1 & (1 << 22) and (ccipr >> 14) & 3 == 0
    moder, otyper, pupdr, afrh = (int(v, 16) for v in r["gpiob"][1::2])
    assert (moder >> 20) & 0xF == 0b1010                 # PB10, PB11 alternate function
    assert otyper & (3 << 10) == 3 << 10                 # open-drain
    assert (pupdr >> 20) & 0xF == 0b0101                 # pull-up
    assert (afrh >> 8) & 0xFF == 0x44                    # AF4 on pins 10 and 11
    assert r["scl_pulses"] == ["0"]                      # idle bus: no bus clear needed


@needs_host_cxx
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


@needs_host_cxx
def test_driver_recovers_after_a_failed_read(driver_sim: Sim) -> None:
    r = driver_sim("glitch")
    assert "error" not in r, r["error"]
    assert _read(r, "lost")[0] == -4                     # the sensor stopped answering
    assert _read(r, "back")[::2] == (3, [1000, -1999, 1999])   # set up again on the next read
    assert r["writes"] == ["12=01", "12=44", "10=60", "11=6C"] * 2


@needs_host_cxx
def test_driver_clears_a_bus_held_low(driver_sim: Sim) -> None:
    r = driver_sim("sda_low")
    assert "error" not in r, r["error"]
    assert r["scl_pulses"] == ["3"]                      # clocked until SDA was let go
    assert _read(r, "accel")[::2] == (3, [1000, -1999, 1999])
