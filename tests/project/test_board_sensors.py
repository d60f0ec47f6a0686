"""Real sensors on STM32 boards: the LSM6DSL on the B-L475E-IOT01A's I2C2.

No hardware here, so this proves what can be proved without it:
- every STM32 board renders and builds (arm-none-eabi-gcc, -Wall -Wextra -Werror), and only a
  board whose sensor entries ask for an I2C sensor sets up an I2C bus and an LSM6DSL;
- the register values the generated port hands the drivers (I2C_TIMINGR, RCC bits, pins,
  LSM6DSL CTRL registers, sample scaling) equal values derived here from the reference manual
  and datasheet, and the TIMINGR fields meet the I2C-bus timing limits;
- an F4 board (v1 I2C block) asking for an I2C sensor is a clear BoardError.
The drivers themselves (plain C) run against a model of the hardware in
test_lsm6dsl_driver.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from edgekit.boards import Board, load_board, parse_board
from edgekit.errors import BoardError
from edgekit.project.build import build_project
from edgekit.project.families import stm32_context
from edgekit.project.families.i2c import i2c_timingr
from edgekit.project.manifest import Project
from edgekit.project.render import collect_files, render_project
from tests.firmware_sources import COMMON, STM32_PORT_COMMON
from tests.project.line_app import FIXTURE, SHA
from tests.project.test_stm32_qemu import STM32_BOARDS, needs_arm

REPO = Path(__file__).resolve().parents[2]
BOARDS = REPO / "boards"

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


def _sources() -> dict[str, object]:
    """The test app (tests/fixtures/stm32_app) and the common files the port needs."""
    return {"model_sources": {n: (FIXTURE / n).read_text() for n in ("edgekit_model.h", "edgekit_model.c")},
            "extra_sources": {"ek_app.c": (FIXTURE / "ek_app.c").read_text()},
            "context": {"model_sha256": SHA}, "common_files": list(STM32_PORT_COMMON)}


def render_files(board: Board) -> dict[str, str]:
    files, _ = collect_files(board, **_sources())
    return {k: v.decode() for k, v in files.items()}


def sensor_cases(port: str) -> dict[str, str]:
    """ek_port_sensor_read's switch: case macro -> the body of that case."""
    read = port[port.index("int ek_port_sensor_read("):]
    read = read[:read.index("\n}\n")]
    body, default = read.split("    default:")
    cases = {"default": default}
    for chunk in body.split("case EK_SENSOR_")[1:]:
        name, rest = chunk.split(":", 1)
        cases[name] = rest
    return cases


# ------------------------------------------------------------------ render: who gets the driver
@pytest.mark.parametrize("board_id", STM32_BOARDS)
def test_only_the_board_with_an_i2c_sensor_gets_the_driver(board_id: str) -> None:
    board = load_board(board_id)
    files = render_files(board)
    port, header = files["src/ek_port_stm32.c"], files["src/ek_board.h"]
    drives = board_id == "b-l475e-iot01a"
    for marker in ("static const ek_i2c_v2_t i2c2 = {", "static ek_lsm6dsl_t lsm6dsl_i2c2_6a = {",
                   "ek_lsm6dsl_read(", ".timingr = "):
        assert (marker in port) == drives, marker
    # Sensor macros for every board, and one error code per failure, in the port contract
    # (ek_port.h, a copy of the common file) and nowhere else.
    assert re.search(rf"#define EK_SENSOR_COUNT\s+{len(board.sensors)}u", header)
    for s_index, s in enumerate(board.sensors):
        macro = s.id.upper()
        assert re.search(rf"#define EK_SENSOR_{macro}\s+{s_index}u", header)
        assert re.search(rf"#define EK_SENSOR_{macro}_AXES\s+{s.axes}u", header)
    assert "EK_SENSOR_ERR_" not in header
    assert files["src/ek_port.h"].endswith((COMMON / "ek_port.h").read_text())
    codes = dict(re.findall(r"#define (EK_SENSOR_ERR_\w+)\s+\((-\d+)\)", files["src/ek_port.h"]))
    assert codes == {"EK_SENSOR_ERR_NO_SUCH": "-1", "EK_SENSOR_ERR_UNSUPPORTED": "-2",
                     "EK_SENSOR_ERR_BUFFER": "-3", "EK_SENSOR_ERR_NACK": "-4",
                     "EK_SENSOR_ERR_TIMEOUT": "-5", "EK_SENSOR_ERR_BUS": "-6",
                     "EK_SENSOR_ERR_WRONG_ID": "-7"}
    if board_id == "qemu-netduinoplus2":
        cases = sensor_cases(port)
        assert "return ek_synth_read(&ek_synth, EK_SYNTH_GESTURES, now_us(), out, max_values);" in cases["ACCEL"]
        assert "return ek_synth_read(&ek_synth, EK_SYNTH_VIBRATION, now_us(), out, max_values);" in \
            cases["VIBRATION"]


def test_b_l475_dispatch_reads_the_lsm6dsl_and_leaves_the_rest_unsupported() -> None:
    board = load_board("b-l475e-iot01a")
    cases = sensor_cases(render_files(board)["src/ek_port_stm32.c"])
    returns = {name: re.findall(r"return ([\w(&]+)", body) for name, body in cases.items()}
    # Every case first checks the caller's buffer against the sensor's axes.
    for s in board.sensors:
        macro = s.id.upper()
        assert returns[macro][0] == "EK_SENSOR_ERR_BUFFER", macro
        assert f"if (max_values < EK_SENSOR_{macro}_AXES)" in cases[macro]
    assert {name: r[-1] for name, r in returns.items()} == {
        "ACCEL": "ek_lsm6dsl_read(&lsm6dsl_i2c2_6a", "GYRO": "ek_lsm6dsl_read(&lsm6dsl_i2c2_6a",
        "MAGNETOMETER": "EK_SENSOR_ERR_UNSUPPORTED", "PRESSURE": "EK_SENSOR_ERR_UNSUPPORTED",
        "HUMIDITY": "EK_SENSOR_ERR_UNSUPPORTED", "DISTANCE": "EK_SENSOR_ERR_UNSUPPORTED",
        "MICROPHONE": "EK_SENSOR_ERR_UNSUPPORTED", "default": "EK_SENSOR_ERR_NO_SUCH"}


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
    files = render_files(load_board("b-l475e-iot01a"))
    port = files["src/ek_port_stm32.c"]
    bus = port[port.index("static const ek_i2c_v2_t i2c2 = {"):]
    bus = bus[:bus.index("\n};\n")]
    assert ".timingr = 0x10F91745u," in bus
    assert ".base = 0x40005800u," in bus                              # RM0351 memory map
    assert ".rcc_enr = &RCC_APB1ENR1, .rcc_bit = 22u," in bus          # I2C2EN
    assert ".kernel_sel = &RCC_CCIPR, .kernel_sel_shift = 14u," in bus # I2C2SEL = PCLK1
    assert ".scl = {1u, 10u}, .sda = {1u, 11u}, .af = 4u," in bus      # PB10/PB11 AF4
    assert ".gpio = {GPIO_A_BASE, &RCC_AHB2ENR}," in bus
    # The register map those names stand for (RM0351 §6.4 RCC, §2.2.2 memory map).
    regs = files["src/ek_port_stm32.h"]
    assert re.search(r"#define RCC_BASE\s+0x40021000u", regs)
    for name, offset in (("RCC_APB1ENR1", 0x58), ("RCC_CCIPR", 0x88), ("RCC_AHB2ENR", 0x4C)):
        assert re.search(rf"#define {name}\s+REG32\(RCC_BASE \+ 0x{offset:02X}u\)", regs), name
    assert re.search(r"#define GPIO_A_BASE\s+0x48000000u", regs)


@pytest.mark.parametrize("kernel_hz", [4_000_000, 16_000_000, 48_000_000, 80_000_000,
                                       100_000_000, 120_000_000, 200_000_000])
@pytest.mark.parametrize("bus_hz", [100_000, 400_000])
def test_timingr_meets_the_bus_limits(kernel_hz: int, bus_hz: int) -> None:
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
    driver = (COMMON / "ek_lsm6dsl.h").read_text()

    def define(name: str) -> int:
        m = re.search(rf"#define {name}\s+(0x[0-9A-Fa-f]+|\(1u << \d+\))", driver)
        assert m, name
        v = m.group(1)
        return int(v, 16) if v.startswith("0x") else 1 << int(re.search(r"<< (\d+)", v).group(1))

    assert (define("LSM6DSL_WHO_AM_I"), define("LSM6DSL_WHO_AM_I_VALUE")) == (0x0F, 0x6A)
    assert (define("LSM6DSL_CTRL1_XL"), define("LSM6DSL_CTRL2_G"), define("LSM6DSL_CTRL3_C")) == \
        (0x10, 0x11, 0x12)
    assert (define("LSM6DSL_OUTX_L_G"), define("LSM6DSL_OUTX_L_XL")) == (0x22, 0x28)
    assert define("LSM6DSL_CTRL3_C_BDU") | define("LSM6DSL_CTRL3_C_IF_INC") == 0x44
    assert "static ek_i2c_v2_dev_t lsm6dsl_i2c2_6a_dev = {&i2c2, 0x6Au};" in port
    writes = dict(re.findall(r"\.(ctrl1_xl|ctrl2_g) = (0x[0-9A-F]{2})u,", port))
    assert {k: int(v, 16) for k, v in writes.items()} == {"ctrl1_xl": ctrl1_xl, "ctrl2_g": ctrl2_g}
    assert f"ek_lsm6dsl_read(&lsm6dsl_i2c2_6a, LSM6DSL_OUTX_L_XL, out, {accel_scale.numerator}, " \
           f"{accel_scale.denominator})" in port
    assert f"ek_lsm6dsl_read(&lsm6dsl_i2c2_6a, LSM6DSL_OUTX_L_G, out, {gyro_scale.numerator}, " \
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
    # Loading the board file validates it through its family, so the error comes first there.
    with pytest.raises(BoardError, match=r"sensors\[0\]\.bus.*v2 I2C.*STM32F4 has the older v1 I2C"):
        render_files(shield_board(tmp_path, "nucleo-f446re"))


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
    with pytest.raises(BoardError, match=message):
        stm32_context(l475_variant(tmp_path, edit))


# ------------------------------------------------------------------ build
@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sensor_fw")


def _build(board: Board, out: Path) -> Project:
    project = render_project(board, out, **_sources())
    result = build_project(project, jobs=2)
    assert result.elf.is_file()
    return project


@pytest.mark.toolchain
@needs_arm
@pytest.mark.parametrize("board_id", STM32_BOARDS)
def test_every_stm32_board_builds_with_werror(board_id: str, build_dir: Path) -> None:
    project = _build(load_board(board_id), build_dir / board_id)
    port = (project.root / "src" / "ek_port_stm32.c").read_text()
    assert ("ek_lsm6dsl_read(" in port) == (board_id == "b-l475e-iot01a")


@pytest.mark.toolchain
@needs_arm
@pytest.mark.parametrize("base", ["nucleo-l4r5zi", "nucleo-h743zi"])
def test_shield_variants_build(base: str, tmp_path: Path) -> None:
    """The driver on I2C1 of an L4+ and an H7 (RCC_D2CCIP2R, RCC_APB1LENR) compiles too."""
    board = shield_board(tmp_path, base, rate=416, bus_hz=400_000)
    project = _build(board, tmp_path / "fw")
    port = (project.root / "src" / "ek_port_stm32.c").read_text()
    assert "ek_lsm6dsl_read(&lsm6dsl_i2c1_6b, LSM6DSL_OUTX_L_XL, out, 61, 500)" in port   # 0.122 mg/LSB
    assert (".kernel_sel = &RCC_D2CCIP2R, .kernel_sel_shift = 12u," in port) == (base == "nucleo-h743zi")
