"""The static work split of every node across 1..``MAX_THREADS`` threads.

A node's output is cut into units of equal work: output rows of a spatial
op (each row is ``out_w * out_c`` outputs of the same window size),
output pixels of the per-pixel ops, elements of add, output channels of a
layer whose output is one pixel (a linear layer has a single row). Each
thread gets one contiguous range of whole units; the ranges differ by at
most one grain, so every thread does the same work in every node (a barrier
follows each node, so balance per node is what counts). The generated code
reads its share from a table of boundaries (``table``) with ``BNN_SHARE``
(cruntime/bnn_pool.h).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from ..ir.bits import words
from .bconv_tiles import TILE_CHANNELS, step_words
from .lower import NodeCode

#: bnn_pool.h's BNN_MAX_THREADS: the splits cover 1..MAX_THREADS threads.
MAX_THREADS = 8
#: Elements of add_i8 per grain: whole NEON vectors.
ELEMENT_GRAIN = 16
#: Bit outputs split by channel in whole words.
WORD_CHANNELS = 64

ROW_OPS = frozenset({"bconv", "conv_i8", "threshold", "bmaxpool", "maxpool_i8", "avgpool_i8",
                     "conv_i8_w1", "conv_i8_w2", "bconv_w2", "bconv_k"})
PIXEL_OPS = frozenset({"channelwise_i8", "lut", "concat_i8", "concat_bits", "add_into_i8"})


@dataclass(frozen=True)
class Split:
    """How one node's output is divided among threads."""

    unit: str          # "rows", "pixels", "elements" or "channels"
    total: int         # units in the node's output
    grain: int = 1     # every boundary but the last is a multiple of it
    # pointer advance per unit, by role ("in", "out", "in0", "weight", "tiles", ...);
    # "tiles" advances per block of TILE_CHANNELS channels
    strides: Mapping[str, int] = field(default_factory=dict)


def boundaries(total: int, threads: int, grain: int = 1) -> list[int]:
    """The ``threads + 1`` boundaries of ``threads`` contiguous shares of
    ``total`` units, shares in whole grains differing by at most one grain.
    The larger shares go to the middle threads: the first and the last share
    hold the output's borders, whose padded windows cost more, and thread 0
    (the caller) also starts the run."""
    if total < 0 or threads < 1 or grain < 1:
        raise ValueError(f"cannot split {total} units in grains of {grain} "
                         f"across {threads} threads")
    base, extra = divmod(-(-total // grain), threads)
    by_depth = sorted(range(threads), key=lambda t: (min(t, threads - 1 - t), t), reverse=True)
    larger = set(by_depth[:extra])
    b = [0]
    for t in range(threads):
        b.append(min(total, b[-1] + grain * (base + (t in larger))))
    return b


def table(split: Split, max_threads: int = MAX_THREADS) -> list[list[int]]:
    """Boundaries for every thread count 1..max_threads (BNN_SHARE's layout)."""
    return [boundaries(split.total, n, split.grain) for n in range(1, max_threads + 1)]


def busiest_share(split: Split, threads: int) -> float:
    """The largest share's fraction of the node's work."""
    if split.total == 0:
        return 0.0
    b = boundaries(split.total, threads, split.grain)
    return max(hi - lo for lo, hi in pairwise(b)) / split.total


def _elems(dtype: str, channels: int) -> int:
    """Pointer elements of one pixel: bytes for int8/uint8, words for bits."""
    return words(channels) if dtype == "bits" else channels


def _channel_split(code: NodeCode) -> Split | None:
    """Output channels of a one-pixel conv (a linear layer), when its kernel
    can run on a channel range: weights, per-channel arrays and the output
    pointer then advance per channel, and the channel count shrinks."""
    p = code.params
    if code.node.op not in ("bconv", "conv_i8") or tuple(p["out_shape"][:2]) != (1, 1):
        return None
    if p.get("pad_fix") or p.get("groups", 1) != 1 or p.get("general"):
        return None  # pad_fix and groups index by the full channel count
    kh, kw = p["window"][:2]
    c_in = p["in_shape"][2]
    to_bits = code.output.dtype == "bits"
    if code.node.op == "conv_i8":
        return Split("channels", p["out_shape"][2], WORD_CHANNELS if to_bits else TILE_CHANNELS,
                     {"weight": kh * kw * c_in})
    row_words = kw * words(c_in)
    tile_block = len(step_words(kh, row_words)) * TILE_CHANNELS * 2
    return Split("channels", p["out_shape"][2], WORD_CHANNELS if to_bits else TILE_CHANNELS,
                 {"weight": kh * row_words, "tiles": tile_block})


def split_node(code: NodeCode) -> Split:
    """The split of one lowered node."""
    op, p = code.node.op, code.params
    channels = _channel_split(code)
    if channels is not None:
        return channels
    if op in ROW_OPS:
        out_h = p["out_shape"][0] if "out_shape" in p else p["shape"][0]
        return Split("rows", out_h)
    if op == "add_i8":
        return Split("elements", p["size"], ELEMENT_GRAIN, {"in0": 1, "in1": 1, "out": 1})
    if op in PIXEL_OPS:
        h, w, c = p["out_shape"] if "out_shape" in p else p["shape"]
        strides = {"out": _elems(code.output.dtype, c)}
        for i, t in enumerate(code.inputs):
            strides[f"in{i}"] = _elems(t.dtype, t.shape[3])
        strides.update(p.get("pitches", {}))  # int8 slices of wider buffers (codegen/slices.py)
        return Split("pixels", h * w, 1, strides)
    raise ValueError(f"node {code.node.name}: no thread split for op {op!r}")
