"""Generation-time quantization arithmetic, computed exactly as TFLM's Prepare() does.

Everything here runs in Python doubles (IEEE binary64, like the C++ `double`s TFLM uses)
and produces the int32 multipliers, shifts and ranges the kernels consume at run time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def tflite_round(x: float) -> float:
    """std::round: half away from zero (Python's round() is half-to-even)."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real ~= q * 2^(shift - 31), q in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(tflite_round(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def frexp_multiplier(real: float) -> tuple[int, int]:
    """The LOGISTIC/TANH variant: frexp + round, no renormalisation of q == 2^31."""
    q, shift = math.frexp(real)
    return int(tflite_round(q * (1 << 31))), shift


def calculate_input_radius(input_integer_bits: int, input_left_shift: int,
                           total_signed_bits: int = 31) -> int:
    """TFLite CalculateInputRadius: the largest |input - zero point| the fixed-point kernel takes unsaturated."""
    max_input_rescaled = (1.0 * ((1 << input_integer_bits) - 1)
                          * (1 << (total_signed_bits - input_integer_bits))
                          / (1 << input_left_shift))
    return int(math.floor(max_input_rescaled))


def _quantize_float(value: float, scale: float, zero_point: int) -> int:
    """zero_point + round(value / scale) with TFLM's float (binary32) arithmetic."""
    q = np.float32(value) / np.float32(scale)
    return int(zero_point) + int(tflite_round(float(q)))


def activation_range(activation: str | None, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs."""
    lo, hi = INT8_MIN, INT8_MAX
    act = activation or "NONE"
    if act == "NONE":
        return lo, hi
    if act == "RELU":
        return max(lo, _quantize_float(0.0, scale, zero_point)), hi
    if act == "RELU6":
        return (max(lo, _quantize_float(0.0, scale, zero_point)),
                min(hi, _quantize_float(6.0, scale, zero_point)))
    if act == "RELU_N1_TO_1":
        return (max(lo, _quantize_float(-1.0, scale, zero_point)),
                min(hi, _quantize_float(1.0, scale, zero_point)))
    raise ValueError(act)


def conv_multipliers(input_scale: float, filter_scales: np.ndarray,
                     output_scale: float) -> tuple[list[int], list[int]]:
    """Per-channel (or per-tensor) effective scale input*filter/output in double."""
    mults, shifts = [], []
    for fs in np.asarray(filter_scales, dtype=np.float32).reshape(-1):
        eff = float(input_scale) * float(fs) / float(output_scale)
        m, s = quantize_multiplier(eff)
        mults.append(m)
        shifts.append(s)
    return mults, shifts


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) for int8 softmax."""
    k_scaled_diff_integer_bits = 5
    max_real = (1 << 31) - 1.0
    real = min(float(beta) * float(input_scale) * (1 << (31 - k_scaled_diff_integer_bits)),
               max_real)
    mult, shift = quantize_multiplier(real)
    if shift < 0:
        raise ValueError("softmax input scale too small")
    diff_min = -1 * calculate_input_radius(k_scaled_diff_integer_bits, shift)
    return mult, shift, diff_min


def sigmoid_tanh_params(input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, input_range_radius) for int8 LOGISTIC/TANH."""
    k_input_integer_bits = 4
    real = float(input_scale) * float(1 << (31 - k_input_integer_bits))
    mult, shift = frexp_multiplier(real)
    radius = calculate_input_radius(k_input_integer_bits, shift, 31)
    return mult, shift, radius


def add_params(s1: float, s2: float, so: float) -> dict[str, int]:
    """int8 ADD/SUB multipliers and shifts as TFLM's Prepare: inputs rescaled to 2 * max scale, left shift 20."""
    left_shift = 20
    twice_max = 2 * float(max(np.float32(s1), np.float32(s2)))
    m1, sh1 = quantize_multiplier(float(s1) / twice_max)
    m2, sh2 = quantize_multiplier(float(s2) / twice_max)
    mo, sho = quantize_multiplier(twice_max / ((1 << left_shift) * float(so)))
    return {"m1": m1, "sh1": sh1, "m2": m2, "sh2": sh2, "mo": mo, "sho": sho, "left_shift": left_shift}


def mean_params(input_scale: float, output_scale: float, num: int) -> tuple[int, int]:
    """TFLM int8 MEAN: QuantizeMultiplier(in/out), then 1/num folded into the multiplier."""
    mult, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    s = num.bit_length() - 1  # 63 - CountLeadingZeros(num)
    s = min(s, 32)
    s = min(s, 31 + shift)
    mult = (mult << s) // num
    return mult, shift - s


# ---------------------------------------------------------------- int8 lookup tables

def _tdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _i16(v: int) -> int:
    return ((v + 0x8000) & 0xFFFF) - 0x8000


def _srdhm16(a: int, b: int) -> int:
    if a == b == -32768:
        return 32767
    ab = a * b
    nudge = (1 << 14) if ab >= 0 else (1 - (1 << 14))
    return _i16(_tdiv(ab + nudge, 1 << 15))


def _sdhm16(a: int, b: int) -> int:
    if a == b == -32768:
        return 32767
    return _i16(_tdiv(a * b, 1 << 15))


def _rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > thr else 0)


def _sat_shl16(v: int, amount: int) -> int:
    return max(-32768, min(32767, v * (1 << amount)))


def _downscale_to_int16(m: int) -> int:
    if m >= (1 << 31) - 1 - (1 << 15):
        return 32767
    return (m + (1 << 15)) >> 16


_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1


def _i32(v: int) -> int:
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _srdhm32(a: int, b: int) -> int:
    if a == b == _INT32_MIN:
        return _INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    return _i32(_tdiv(ab + nudge, 1 << 31))


def _sat_shl32(x: int, e: int) -> int:
    threshold = (1 << (31 - e)) - 1
    if x > threshold:
        return _INT32_MAX
    if x < -threshold:
        return _INT32_MIN
    return _i32(x << e)


def _exp_quarter(a: int) -> int:
    """exp(a) for a in [-1/4, 0) in Q0.31, as ekrt_math.c's exp_quarter (gemmlowp)."""
    constant_term, one_third = 1895147668, 715827883
    x = a + (1 << 28)
    x2 = _srdhm32(x, x)
    x3 = _srdhm32(x2, x)
    x4 = _srdhm32(x2, x2)
    poly = _rdbpot(_i32(_srdhm32(_i32(_rdbpot(x4, 2) + x3), one_third) + x2), 1)
    return _i32(constant_term + _srdhm32(constant_term, _i32(x + poly)))


def _exp_neg(a: int, int_bits: int) -> int:
    """exp(a) for a <= 0 with int_bits integer bits, Q0.31: ekrt_math.c's exp_neg (gemmlowp's
    exp_on_negative_values)."""
    mults = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)
    frac_bits = 31 - int_bits
    quarter = 1 << (frac_bits - 2)
    amq = (a & (quarter - 1)) - quarter
    result = _exp_quarter(_sat_shl32(amq, int_bits))
    remainder = amq - a
    for e in range(-2, 5):
        if int_bits > e and remainder & (1 << (frac_bits + e)):
            result = _srdhm32(result, mults[e + 2])
    return _INT32_MAX if a == 0 else result


def softmax_exp_table(input_multiplier: int, input_left_shift: int, diff_min: int) -> list[int]:
    """TFLM's int8 softmax exp for each distance k = max - x in 0..255 (Q0.31), 0 where x - max
    < diff_min: such an element adds nothing to the sum and its output is the minimum either way."""
    table = []
    for k in range(256):
        diff = -k
        if diff < diff_min:
            table.append(0)
            continue
        d = _srdhm32(_i32(diff << input_left_shift), input_multiplier)
        table.append(_exp_neg(d, 5))
    return table


def hard_swish_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> list[int]:
    """TFLM's int8 HARD_SWISH (reference_ops::HardSwish with TFLM's Prepare: float scales,
    int16 fixed point) evaluated for all 256 inputs: out[(uint8)x]."""
    f32 = np.float32
    hires = f32(f32(1.0) / f32(128.0)) * f32(in_scale)
    reluish_scale = f32(3.0) / f32(32768.0)
    om, oe = quantize_multiplier(float(f32(hires / f32(out_scale))))
    om16 = _downscale_to_int16(om)
    if oe > 0:
        raise ValueError("hard swish output multiplier exponent > 0")
    rm, re_ = quantize_multiplier(float(f32(hires / reluish_scale)))
    rm16 = _downscale_to_int16(rm)
    table = [0] * 256
    for x in range(-128, 128):
        v = _i16(x - in_zp)
        hires_v = _i16(v * (1 << 7))
        pre_out = _srdhm16(hires_v, om16)
        rel = hires_v
        if re_ > 0:
            rel = _sat_shl16(rel, re_ - 1)
        rel = _srdhm16(rel, rm16)
        if re_ > 0:
            rel = _sat_shl16(rel, 1)
        if re_ < 0:
            rel = _rdbpot(rel, -re_)
        rel = _i16((rel + (1 << 15)) >> 1)
        pre = _sdhm16(rel, pre_out)
        out = _i16(_rdbpot(pre, -oe) + out_zp)
        table[x & 0xFF] = max(-128, min(127, out))
    return table


# ---------------------------------------------------------------- integer LSTM (TFLM Prepare)

LSTM_GATE_SCALE = 2.0 ** -12    # gate pre-activations: Q3.12 (TFLM's nonlinear_input_scale)
LSTM_ACT_SCALE = 2.0 ** -15     # gate outputs: Q0.15 (nonlinear_output_scale)


def lstm_fc_multiplier(input_scale: float, weight_scale: float) -> tuple[int, int]:
    """A gate's input or recurrent FC to Q3.12: GetQuantizedConvolutionMultipler without bias,
    whose scale product is taken in float (binary32) before the double division."""
    product = float(np.float32(input_scale) * np.float32(weight_scale))
    return quantize_multiplier(product / float(np.float32(LSTM_GATE_SCALE)))


def lstm_mul_multiplier(scale1: float, scale2: float, output_scale: float) -> tuple[int, int]:
    """CreateInterGateMulParams: the float scales multiplied and divided in double."""
    f32 = np.float32
    return quantize_multiplier(float(f32(scale1)) * float(f32(scale2)) / float(f32(output_scale)))


def lstm_cell_scale_power(cell_scale: float) -> int:
    """CheckedLog2 of the cell state scale, in float as TFLM computes it (rounded log2)."""
    f32 = np.float32
    x_log2 = f32(np.log(f32(cell_scale))) * f32(f32(1.0) / f32(np.log(f32(2.0))))
    return int(tflite_round(float(x_log2)))


def lstm_tanh_params(scale_power: int) -> tuple[int, int]:
    """(input multiplier, right shift) of lstm_internal::Tanh for a Q(-scale_power) int16
    input, the power-of-two case of reference_integer_ops::Tanh already resolved."""
    left_shift = 15 + scale_power - 3
    if left_shift < 0:
        return 3, -left_shift
    return 3 << left_shift, 0


def lstm_cell_clip(cell_clip: float, cell_scale: float) -> int:
    """CreateLstmCellStateInfo's quantized clip (0: no clipping), truncated to int16."""
    if not cell_clip > 0:
        return 0
    q = min(max(float(np.float32(cell_clip)) / float(np.float32(cell_scale)), -32768.0), 32767.0)
    return int(q)


# ---------------------------------------------------------------- float lookup tables (TFLM Prepare)

def _libm_expf() -> Callable[[np.float32], np.float32]:
    """expf of the C library TFLM's Prepare calls (glibc's on the host reference), else numpy's
    float32 exp: the tables below are computed in float as TFLM computes them."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("m")
    if name:
        try:
            fn = ctypes.CDLL(name).expf
            fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
            return lambda v: np.float32(fn(float(v)))
        except (OSError, AttributeError):
            pass
    return lambda v: np.float32(np.exp(np.float32(v)))


def elu_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> list[int]:
    """TFLM's int8 ELU table (elu.cc PopulateLookupTable, in float): out[(uint8)x]."""
    f32 = np.float32
    expf = _libm_expf()
    inverse = f32(1.0) / f32(out_scale)
    table = [0] * 256
    for x in range(-128, 128):
        v = f32(in_scale) * f32(x - in_zp)
        t = f32(expf(v) - f32(1.0)) if v < 0 else v
        rescaled = f32(tflite_round(float(f32(t * inverse))))
        q = int(f32(rescaled + f32(out_zp)))
        table[x & 0xFF] = max(INT8_MIN, min(INT8_MAX, q))
    return table


def squared_difference_params(s1: float, s2: float, so: float) -> dict[str, int]:
    """int8 SQUARED_DIFFERENCE as TFLM's PrepareQuantized: ADD's input rescaling at left shift
    7, the output multiplier over the squared (2 * max scale)."""
    left_shift = 7
    twice_max = 2.0 * float(max(np.float32(s1), np.float32(s2)))
    m1, sh1 = quantize_multiplier(float(s1) / twice_max)
    m2, sh2 = quantize_multiplier(float(s2) / twice_max)
    out_den = float(np.float32((1 << (2 * left_shift)) * np.float32(so)))
    mo, sho = quantize_multiplier(twice_max * twice_max / out_den)
    return {"m1": m1, "sh1": sh1, "m2": m2, "sh2": sh2, "mo": mo, "sho": sho, "left_shift": left_shift}


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """TFLM's MultiplyByQuantizedMultiplier (double rounding), as ekrt_mul_q computes it."""
    left, right = max(shift, 0), max(-shift, 0)
    return _rdbpot(_srdhm32(_i32(x * (1 << left)), multiplier), right)


def abs_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> list[int]:
    """TFLM's int8 ABS (elementwise.cc) for all 256 inputs: out[(uint8)x]; rescaled only when
    the float scales differ, by their float quotient."""
    f32 = np.float32
    rescale = f32(in_scale) != f32(out_scale)
    m, s = quantize_multiplier(float(f32(in_scale) / f32(out_scale))) if rescale else (0, 0)
    table = [0] * 256
    for x in range(-128, 128):
        v = abs(x - in_zp)
        v = multiply_by_quantized_multiplier(v, m, s) if rescale else v
        table[x & 0xFF] = max(INT8_MIN, min(INT8_MAX, v + out_zp))
    return table
