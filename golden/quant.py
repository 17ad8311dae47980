"""Integer requantization, the one variant bnnkit uses everywhere.

gemmlowp / TFLite reference arithmetic (DESIGN.md section 4): a real
multiplier ``M`` is stored as a Q31 ``multiplier`` in [2^30, 2^31) and an
exponent ``shift`` (positive: left), ``M = multiplier * 2^(shift - 31)``.

``multiply_by_quantized_multiplier(acc, multiplier, shift)``:

1. ``x = saturate_int32(acc << max(shift, 0))``  (bnnkit saturates where
   TFLite leaves the overflow undefined);
2. ``y = SRDHM(x, multiplier)``: ``(x*m + nudge) / 2^31`` truncated toward
   zero with ``nudge = 2^30`` if ``x*m >= 0`` else ``1 - 2^30`` (as gemmlowp:
   positive ties round up, negative ties round toward zero); the one overflow
   case ``INT32_MIN * INT32_MIN`` gives ``INT32_MAX``;
3. ``RDBPOT(y, max(-shift, 0))``: divide by a power of two rounding half
   away from zero.

The C runtime (cruntime/bnn_requant.h) implements exactly this; both are
tested against the same edge vectors (tests/test_requant.py,
tests/test_cruntime.py).
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
ADD_LEFT_SHIFT = 20  # headroom of add_i8 before rescaling, as in TFLite


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Real multiplier to (Q31 multiplier, shift); 0 gives (0, 0).

    A negative multiplier (PReLU's negative slopes) is the negated positive
    one: SRDHM and RDBPOT round symmetrically, so the result is exactly the
    negated product.
    """
    if real < 0:
        q, e = quantize_multiplier(-real)
        return -q, e
    if real == 0.0:
        return 0, 0
    mantissa, exponent = math.frexp(real)
    q = round(mantissa * (1 << 31))
    if q == 1 << 31:
        q //= 2
        exponent += 1
    if exponent < -31:  # below 2^-32: rounds to nothing for any int32
        return 0, 0
    if exponent > 30:
        raise ValueError(f"multiplier {real} is too large for int32 requantization")
    return int(q), int(exponent)


def _trunc_div(num: np.ndarray, den: int) -> np.ndarray:
    q = np.abs(num) // den
    return np.where(num < 0, -q, q)


def srdhm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Saturating rounding doubling high multiply of int32 values."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    out = _trunc_div(ab + nudge, 1 << 31)
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, out)


def rdbpot(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """Rounding (half away from zero) division by 2^exponent, exponent 0..31."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(acc: np.ndarray, multiplier: np.ndarray,
                                     shift: np.ndarray) -> np.ndarray:
    """``acc * M`` rounded, in int64 arrays holding int32 values."""
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    x = np.clip(np.asarray(acc, dtype=np.int64) << left, INT32_MIN, INT32_MAX)
    return rdbpot(srdhm(x, multiplier), right)


def requantize(acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray, zero_point: int,
               lo: int = -128, hi: int = 127) -> np.ndarray:
    """The output stage of every int8 op: ``clamp(Z + acc * M)``."""
    q = zero_point + multiply_by_quantized_multiplier(acc, multiplier, shift)
    return np.clip(q, lo, hi).astype(np.int8)


def round_div(num: np.ndarray, den: np.ndarray | np.integer) -> np.ndarray:
    """Integer division rounding half away from zero (average pooling)."""
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    q = (np.abs(num) + den // 2) // den
    return np.where(num < 0, -q, q)
