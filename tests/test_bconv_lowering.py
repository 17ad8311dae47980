"""The binary conv's export-time arrays: weights in tile order and the zero
padding fix, each held against its definition (the C kernels that read them
are checked against the reference in test_cruntime_arm.py and on whole
models in test_export_to_c.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnkit.codegen.bconv_tiles import bconv_tiles, step_words
from bnnkit.codegen.lower import zero_pad_fix
from bnnkit.golden.int_ops import bconv_dot
from bnnkit.golden.windows import out_size
from bnnkit.ir.bits import pack
from bnnkit.ir.graph import Node


@settings(max_examples=40, deadline=None)
@given(kh=st.integers(1, 7), row_words=st.integers(1, 13))
def test_steps_cover_each_word_once(kh: int, row_words: int) -> None:
    """Every window word is read once, except an odd window's last (paired
    across pixels, so listed twice); a pair never spans more than two rows."""
    steps = step_words(kh, row_words)
    words = [w for pair in steps for w in pair]
    k = kh * row_words
    expected = list(range(k)) + ([k - 1] if k % 2 else [])
    assert sorted(words) == expected
    assert len(steps) == (k + 1) // 2
    assert all(b // row_words - a // row_words in (0, 1) for a, b in steps)


@settings(max_examples=20, deadline=None)
@given(out=st.integers(1, 20), kh=st.integers(1, 3), kw=st.integers(1, 3),
       nwords=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_tiles_stream_follows_the_steps(out: int, kh: int, kw: int, nwords: int,
                                        seed: int) -> None:
    rng = np.random.default_rng(seed)
    weight = rng.integers(0, 2**63, (out, kh, kw, nwords), dtype=np.uint64)
    steps = step_words(kh, kw * nwords)
    tiles = bconv_tiles(weight).reshape(-1, len(steps), 8, 2)
    flat = weight.reshape(out, -1)
    for o in range(tiles.shape[0] * 8):
        for s, (a, b) in enumerate(steps):
            want = (flat[o, a], flat[o, b]) if o < out else (0, 0)
            assert tuple(tiles[o // 8, s, o % 8]) == want


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), cin=st.integers(1, 130),
       cout=st.integers(1, 9), k=st.sampled_from([(1, 1), (3, 3), (5, 5), (3, 1), (2, 3)]),
       stride=st.sampled_from([(1, 1), (2, 2), (1, 2)]),
       pads=st.lists(st.integers(0, 4), min_size=4, max_size=4),
       seed=st.integers(0, 2**16))
def test_zero_pad_fix_turns_one_padding_into_zero_padding(h, w, cin, cout, k, stride, pads,
                                                          seed) -> None:
    """y(zero) == y(one) - fix[row class][column class] at every pixel."""
    top, left, bottom, right = pads
    oh, ow = out_size(h, k[0], stride[0], top, bottom), out_size(w, k[1], stride[1], left, right)
    if oh < 1 or ow < 1:
        return
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (1, h, w, cin), dtype=np.uint8)
    weight = pack(rng.integers(0, 2, (cout, *k, cin), dtype=np.uint8))
    y = {}
    for mode in ("zero", "one"):
        attrs = {"stride": list(stride), "padding": pads, "pad_mode": mode}
        y[mode] = bconv_dot(Node("n", "bconv", ("x",), ("y",), attrs, {"weight": weight}), x,
                            cin)[0]
    fix, rows, cols = zero_pad_fix(weight, cin, (h, w), (oh, ow), stride, pads)
    assert np.array_equal(y["zero"], y["one"] - fix[rows][:, cols])
    assert fix.shape[:2] == (len(set(rows)), len(set(cols)))
