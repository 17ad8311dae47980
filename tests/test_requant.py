"""The golden requantization against an independent big-int transcription."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnkit.golden.quant import (
    INT32_MAX,
    INT32_MIN,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rdbpot,
    srdhm,
)


def ref_srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return int((ab + nudge) / (1 << 31)) if abs(ab) < 2**52 else _trunc(ab + nudge, 1 << 31)


def _trunc(n: int, d: int) -> int:
    q = abs(n) // d
    return q if n >= 0 else -q


def ref_rdbpot(x: int, e: int) -> int:
    if e == 0:
        return x
    q, r = divmod(abs(x), 1 << e)
    q += r * 2 >= (1 << e)  # half away from zero
    return q if x >= 0 else -q


def ref_mbqm(acc: int, m: int, shift: int) -> int:
    x = min(max(acc << max(shift, 0), INT32_MIN), INT32_MAX)
    return ref_rdbpot(_trunc_srdhm(x, m), max(-shift, 0))


def _trunc_srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    return _trunc(ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30)), 1 << 31)


EDGE_ACC = [INT32_MIN, INT32_MIN + 1, -(2**30), -5, -3, -2, -1, 0, 1, 2, 3, 5, 2**30, INT32_MAX]
EDGE_SHIFT = [-31, -30, -16, -1, 0, 1, 5, 30]
EDGE_M = [0, 1 << 30, (1 << 30) + 1, INT32_MAX, -(1 << 30), INT32_MIN + 1]


def test_edge_vectors() -> None:
    for acc in EDGE_ACC:
        for m in EDGE_M:
            for s in EDGE_SHIFT:
                got = int(multiply_by_quantized_multiplier(np.int64(acc), m, s))
                assert got == ref_mbqm(acc, m, s), (acc, m, s)


def test_named_cases() -> None:
    assert int(srdhm(INT32_MIN, INT32_MIN)) == INT32_MAX
    assert int(rdbpot(-5, 1)) == -3  # -2.5 rounds away from zero
    assert int(rdbpot(5, 1)) == 3
    assert int(rdbpot(-3, 2)) == -1  # -0.75
    assert int(rdbpot(INT32_MIN, 31)) == -1
    m, s = quantize_multiplier(1.0)
    assert (m, s) == (1 << 30, 1)
    assert int(multiply_by_quantized_multiplier(np.int64(12345), m, s)) == 12345
    m, s = quantize_multiplier(3.5)  # multiplier >= 1: a left shift
    # -24.5: SRDHM rounds a negative tie toward zero, as gemmlowp does
    assert s == 2 and int(multiply_by_quantized_multiplier(np.int64(-7), m, s)) == -24


@settings(max_examples=300, deadline=None)
@given(acc=st.integers(INT32_MIN, INT32_MAX), real=st.floats(1e-9, 8.0),
       negative=st.booleans())
def test_random_against_reference(acc: int, real: float, negative: bool) -> None:
    m, s = quantize_multiplier(-real if negative else real)
    assert int(multiply_by_quantized_multiplier(np.int64(acc), m, s)) == ref_mbqm(acc, m, s)
    exact = acc * (-real if negative else real)
    if abs(exact) < 2**30 and s <= 0:
        assert abs(int(multiply_by_quantized_multiplier(np.int64(acc), m, s)) - exact) <= 1.0
