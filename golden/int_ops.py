"""Integer semantics of the deployable ops: the executable specification.

Every C kernel in cruntime/ must reproduce these functions bit for bit.
int8/uint8 tensors are numpy int8/uint8 arrays, ``bits`` tensors unpacked
0/1 uint8 arrays (bit 1 = -1), NHWC.

Output stages shared by the accumulating ops (conv_i8, bconv,
channelwise_i8), chosen by the output tensor's dtype:

* ``int8``: ``q = clamp(Z_out + MBQM(acc, multiplier[c], shift[c]), lo, hi)``
  (see quant.py);
* ``bits``: bit = 0 (+1) iff ``acc >= threshold[c]``, else 1. Negative
  BatchNorm scales were folded into negated weights at export, so no op that
  has weights needs a flip flag.
"""

from __future__ import annotations

import numpy as np

from ..ir.bits import unpack
from ..ir.graph import Node, Tensor
from .quant import (
    ADD_LEFT_SHIFT,
    multiply_by_quantized_multiplier,
    rdbpot,
    requantize,
    round_div,
)
from .windows import grouped_conv, windows


def _zero(t: Tensor) -> int:
    assert t.quant is not None, f"tensor {t.name} has no quantization parameters"
    return t.quant.zero_point


def output_stage(node: Node, acc: np.ndarray, out: Tensor) -> np.ndarray:
    arr = node.arrays
    if out.dtype == "bits":
        return (acc < arr["threshold"]).astype(np.uint8)
    lo, hi = node.attrs["clamp"]
    return requantize(acc, arr["multiplier"], arr["shift"], _zero(out), lo, hi)


def lut(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """uint8 or int8 values to int8 through a per-channel table, indexed by the
    input byte (an int8 q at q & 255): input normalization, and channel-wise
    chains tabulated at export (export/passes/tabulate.py)."""
    table = node.arrays["table"]  # (C, 256) int8
    channels = np.arange(table.shape[0])
    return table[channels, xs[0].view(np.uint8).astype(np.intp)]


def conv_i8(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """acc = bias + sum((q_in - Z_in) * w); padded taps add 0."""
    a = node.attrs
    centered = xs[0].astype(np.int64) - _zero(ts[0])
    acc = grouped_conv(centered, node.arrays["weight"], a["stride"], a["padding"], 0.0,
                       a["groups"]).astype(np.int64)
    return output_stage(node, acc + node.arrays["bias"], out)


def conv_i8_w1(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """acc = bias + sum((q_in - Z_in) * w) with w = +1 (bit 0) or -1 (bit 1); padded
    taps add 0. INT8 activations times 1-bit weights (BinaryConnect, XNOR-Net's BWN)."""
    a = node.attrs
    weight = 1.0 - 2.0 * unpack(node.arrays["weight"], ts[0].channels)
    centered = xs[0].astype(np.int64) - _zero(ts[0])
    acc = grouped_conv(centered, weight, a["stride"], a["padding"], 0.0, 1).astype(np.int64)
    return output_stage(node, acc + node.arrays["bias"], out)


def ternary_weight(node: Node, channels: int) -> np.ndarray:
    """TTQ's {-Wn, 0, +Wp} as integers: scale_pos[o] where the ``weight`` plane's bit is
    set, minus scale_neg[o] where ``weight_neg``'s is; (O, KH, KW, C)."""
    arr = node.arrays
    pos = unpack(arr["weight"], channels).astype(np.int64)
    neg = unpack(arr["weight_neg"], channels).astype(np.int64)
    per_out = (-1, 1, 1, 1)
    return (arr["scale_pos"].astype(np.int64).reshape(per_out) * pos
            - arr["scale_neg"].astype(np.int64).reshape(per_out) * neg)


def conv_i8_w2(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """acc = bias + sum((q_in - Z_in) * w) with TTQ's integer ternary w
    (``ternary_weight``); padded taps add 0."""
    a = node.attrs
    centered = xs[0].astype(np.int64) - _zero(ts[0])
    acc = grouped_conv(centered, ternary_weight(node, ts[0].channels), a["stride"],
                       a["padding"], 0.0, 1).astype(np.int64)
    return output_stage(node, acc + node.arrays["bias"], out)


def bconv_w2(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """acc = bias + sum(x * w), x = +-1 (bit 0 = +1) and TTQ's integer ternary w
    (``ternary_weight``); padded taps are x = +1 (pad_mode "one") or add 0 ("zero")."""
    a = node.attrs
    pm1 = 1.0 - 2.0 * xs[0].astype(np.float64)
    pad_value = 1.0 if a["pad_mode"] == "one" else 0.0
    acc = grouped_conv(pm1, ternary_weight(node, ts[0].channels), a["stride"], a["padding"],
                       pad_value, 1).astype(np.int64)
    return output_stage(node, acc + node.arrays["bias"], out)


def bconv_dot(node: Node, x_bits: np.ndarray, channels: int) -> np.ndarray:
    """y = sum over taps of the +-1 dot products; padded taps per pad_mode. A grouped
    conv's output channel o reads the input channels of group o // (cout / groups)."""
    a = node.attrs
    groups = a.get("groups", 1)
    weight = unpack(node.arrays["weight"], channels // groups)  # (O, KH, KW, C/g) bits
    pm1 = 1.0 - 2.0 * x_bits.astype(np.float64)
    pad_value = 1.0 if a["pad_mode"] == "one" else 0.0
    y = grouped_conv(pm1, 1.0 - 2.0 * weight, a["stride"], a["padding"], pad_value, groups,
                     a.get("dilation", (1, 1)))
    return y.astype(np.int64)


def bconv(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """Binary conv: bits output by threshold, or int8 with acc = y << acc_shift + bias."""
    y = bconv_dot(node, xs[0], ts[0].channels)
    if out.dtype == "bits":
        return output_stage(node, y, out)
    acc = (y << node.attrs["acc_shift"]) + node.arrays["bias"]
    return output_stage(node, acc, out)


def threshold(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """int8 to bits: +1 iff (q >= threshold[c]) != flip[c]."""
    ge = xs[0].astype(np.int64) >= node.arrays["threshold"]
    positive = ge != node.arrays["flip"].astype(bool)
    return (~positive).astype(np.uint8)


def bmaxpool(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """Max-pool on bits: AND of the window, or OR on channels in or_mask.

    OR serves channels whose BatchNorm scale is negative when the pool sits
    between a binary conv and its BatchNorm (DESIGN.md section 3).
    """
    a = node.attrs
    and_ = windows(xs[0], a["kernel"], a["stride"], a["padding"], 1).min(axis=(3, 4))
    or_ = windows(xs[0], a["kernel"], a["stride"], a["padding"], 0).max(axis=(3, 4))
    mask = node.arrays["or_mask"].astype(bool)
    return np.where(mask, or_, and_).astype(np.uint8)


def maxpool_i8(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    a = node.attrs
    return windows(xs[0], a["kernel"], a["stride"], a["padding"], -128).max(axis=(3, 4))


def avgpool_i8(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """Z + round_half_away(sum(q - Z) / count); same quantization in and out."""
    a = node.attrs
    z = _zero(ts[0])
    centered = xs[0].astype(np.int64) - z
    total = windows(centered, a["kernel"], a["stride"], a["padding"], 0).sum(axis=(3, 4))
    if a["count_include_pad"]:
        count = np.int64(a["kernel"][0] * a["kernel"][1])
    else:
        ones = np.ones(centered.shape[:3] + (1,), dtype=np.int64)
        count = windows(ones, a["kernel"], a["stride"], a["padding"], 0).sum(axis=(3, 4))
    return np.clip(z + round_div(total, count), -128, 127).astype(np.int8)


def add_i8(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """TFLite add: both inputs to a common scale with 2^20 headroom, then requantize."""
    a = node.attrs
    scaled = []
    for x, t, (m, s) in zip(xs, ts, (a["scale_a"], a["scale_b"]), strict=True):
        centered = (x.astype(np.int64) - _zero(t)) << ADD_LEFT_SHIFT
        scaled.append(multiply_by_quantized_multiplier(centered, m, s))
    m, s = a["scale_out"]
    lo, hi = a["clamp"]
    return requantize(scaled[0] + scaled[1], m, s, _zero(out), lo, hi)


def add_into_i8(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """add_i8 of the second input into channels [offset, offset + its channels) of the
    first; the first's other channels are rescaled to the output like a concat input
    (an exact copy when both have the same quantization)."""
    a = node.attrs
    offset, end = a["offset"], a["offset"] + ts[1].channels
    m, s = a["rescale"]
    y = requantize(xs[0].astype(np.int64) - _zero(ts[0]), m, s, _zero(out))
    added = add_i8(node, [xs[0][..., offset:end], xs[1]], ts, out)
    y[..., offset:end] = added
    return y


def channelwise_i8(node: Node, xs: list[np.ndarray], ts: list[Tensor],
                   out: Tensor) -> np.ndarray:
    """Per-channel affine + PReLU: acc = (q - Z) << acc_shift + bias[c], then
    requantized with the positive or negative multiplier by the sign of acc."""
    arr = node.arrays
    acc = ((xs[0].astype(np.int64) - _zero(ts[0])) << node.attrs["acc_shift"]) + arr["bias"]
    pos = acc >= 0
    mult = np.where(pos, arr["multiplier_pos"], arr["multiplier_neg"])
    shift = np.where(pos, arr["shift_pos"], arr["shift_neg"])
    lo, hi = node.attrs["clamp"]
    return requantize(acc, mult, shift, _zero(out), lo, hi)


def concat_i8(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """Channel concat; each input is rescaled to the output quantization."""
    parts = []
    for x, t, (m, s) in zip(xs, ts, node.attrs["rescale"], strict=True):
        centered = x.astype(np.int64) - _zero(t)
        parts.append(requantize(centered, m, s, _zero(out)))
    return np.concatenate(parts, axis=3)


def concat_bits(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    return np.concatenate(xs, axis=3)


def window_abs_sum(node: Node, x: np.ndarray, zero: int, kernel: tuple[int, int]
                   ) -> np.ndarray:
    """K_int of bconv_k (N, OH, OW, 1): sum over the window's in-bounds taps and every
    channel of |q - Z|; padded taps add 0."""
    a = node.attrs
    total = np.abs(x.astype(np.int64) - zero).sum(axis=3, keepdims=True)
    box = np.ones((1, *kernel, 1))
    return grouped_conv(total, box, a["stride"], a["padding"], 0.0, 1,
                        a.get("dilation", (1, 1))).astype(np.int64)


def bconv_k(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """XNOR-Net's input scaling: acc = round(y * K_int / 2^k_shift) (half away from zero;
    a negative k_shift shifts left), y the binary conv of the bits, K_int
    ``window_abs_sum`` of the int8 x; bits out by threshold on acc, int8 out through the
    output stage of acc + bias."""
    y = bconv_dot(node, xs[0], ts[0].channels)
    kernel = node.arrays["weight"].shape[1:3]
    product = y * window_abs_sum(node, xs[1], _zero(ts[1]), kernel)
    r = node.attrs["k_shift"]
    acc = rdbpot(product, r) if r >= 0 else product << -r
    if out.dtype == "int8":
        acc = acc + node.arrays["bias"]
    return output_stage(node, acc, out)
