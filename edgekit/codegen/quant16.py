"""TFLM's int16 Prepare arithmetic for edgekit-rt's 16x8 lowerings (lower_int16.py): the
activation range, CheckedLog2, and the 513-entry tables of LUTPopulate<int16_t>, all in the
float32 arithmetic TFLM uses (numpy float32 scalars round every operation as C does)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from edgekit.codegen import quant as Q

f32 = np.float32


def _round(x: np.float32) -> np.float32:
    """TfLiteRound on a float: half away from zero."""
    return f32(Q.tflite_round(float(x)))


def act_range16(activation: str | None, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int16 outputs."""
    def q(v: float) -> int:
        return zero_point + int(_round(f32(v) / f32(scale)))

    lo, hi = -32768, 32767
    bounds = {"NONE": (lo, hi), "RELU": (max(lo, q(0.0)), hi),
              "RELU6": (max(lo, q(0.0)), min(hi, q(6.0))),
              "RELU_N1_TO_1": (max(lo, q(-1.0)), min(hi, q(1.0)))}
    act = activation or "NONE"
    if act not in bounds:
        raise ValueError(act)
    return bounds[act]


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLM's CheckedLog2: whether x is a power of two (within 1e-3 in log2), its rounded log2."""
    lg = f32(np.log(f32(x))) * (f32(1.0) / f32(np.log(f32(2.0))))
    r = _round(lg)
    return bool(abs(lg - r) < f32(1e-3)), int(r)


def lut513(in_scale: np.float32, in_zp: int, out_scale: np.float32, out_zp: int,
           fn: Callable[[np.float32], np.float32]) -> list[int]:
    """LUTPopulateInt16<float>: 512 segments over the int16 input range, each sample biased by
    half the interpolation error at its midpoint, and the end value."""
    imin, imax = in_scale * f32(-32768 - in_zp), in_scale * f32(32767 - in_zp)
    omin, omax = out_scale * f32(-32768 - out_zp), out_scale * f32(32767 - out_zp)
    step = (imax - imin) / f32(512)
    half = step / f32(2)
    inv = f32(65536) / (omax - omin)
    lut = []
    for i in range(512):
        val = fn(imin + f32(i) * step)
        mid = fn(imin + f32(i) * step + half)
        nxt = fn(imin + f32(i + 1) * step)
        interp = _round((nxt * inv + _round(val * inv)) / f32(2))
        bias = _round((interp - _round(mid * inv)) / f32(2))
        lut.append(int(min(max(_round(val * inv) - bias, f32(-32768)), f32(32767))))
    lut.append(int(min(max(_round(fn(imax) * inv), f32(-32768)), f32(32767))))
    return lut


@lru_cache(maxsize=1)
def softmax16_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The two tables of TFLM's int16 SOFTMAX (softmax_common.cc): exp on [-10, 0] (input zero
    point 32767) and 1 / (1 + x) on [0, 1]. Model-independent."""
    rng = f32(65535)
    expf = Q._libm_expf()
    exp_lut = lut513(f32(10.0) / rng, 32767, f32(2.0) / rng, 0, expf)
    recip = lut513(f32(1.0) / rng, -32768, f32(2.0) / rng, 0, lambda v: f32(1.0) / (f32(1.0) + v))
    return tuple(exp_lut), tuple(recip)
