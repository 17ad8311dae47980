"""Float semantics of the ops in graphs that are still being lowered.

These mirror PyTorch eval-mode behaviour and are what the export passes are
tested against. ``bits`` tensors hold 0/1 (bit 1 = -1) and are read as +-1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..ir.bits import to_bits
from ..ir.graph import Node, Tensor
from .windows import grouped_conv, windows


def _real(x: np.ndarray, t: Tensor) -> np.ndarray:
    return 1.0 - 2.0 * x if t.dtype == "bits" else x.astype(np.float64)


def _clamp(y: np.ndarray, bounds: list | None) -> np.ndarray:
    if not bounds:
        return y
    lo, hi = bounds
    return np.clip(y, -np.inf if lo is None else lo, np.inf if hi is None else hi)


def conv(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    a = node.attrs
    y = grouped_conv(_real(xs[0], ts[0]), node.arrays["weight"], a["stride"], a["padding"],
                     a["pad_value"], a["groups"], a.get("dilation", (1, 1)))
    y = y * node.arrays["scale"] + node.arrays["shift"]
    return _clamp(y, a.get("clamp"))


def affine(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    return _real(xs[0], ts[0]) * node.arrays["scale"] + node.arrays["shift"]


def act(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    x = _real(xs[0], ts[0])
    y = np.where(x >= 0, x, x * node.arrays["slope"])
    return _clamp(y, node.attrs.get("clamp"))


def sign(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    return to_bits(_real(xs[0], ts[0]))


def maxpool(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """Max over the window; channels in the optional ``min_mask`` take the min.

    On bits the max of +-1 values is the AND of the bits, the min their OR.
    """
    a = node.attrs
    c = ts[0].channels
    min_mask = node.arrays.get("min_mask", np.zeros(c)).astype(bool)
    if ts[0].dtype == "bits":
        and_ = windows(xs[0], a["kernel"], a["stride"], a["padding"], 1).min(axis=(3, 4))
        or_ = windows(xs[0], a["kernel"], a["stride"], a["padding"], 0).max(axis=(3, 4))
        return np.where(min_mask, or_, and_).astype(np.uint8)
    x = xs[0].astype(np.float64)
    hi = windows(x, a["kernel"], a["stride"], a["padding"], -np.inf).max(axis=(3, 4))
    lo = windows(x, a["kernel"], a["stride"], a["padding"], np.inf).min(axis=(3, 4))
    return np.where(min_mask, lo, hi)


def avgpool(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    a = node.attrs
    x = _real(xs[0], ts[0])
    total = windows(x, a["kernel"], a["stride"], a["padding"], 0.0).sum(axis=(3, 4))
    if a["count_include_pad"]:
        return total / (a["kernel"][0] * a["kernel"][1])
    ones = np.ones(x.shape[:3] + (1,))
    count = windows(ones, a["kernel"], a["stride"], a["padding"], 0.0).sum(axis=(3, 4))
    return total / count


def add(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    y = _real(xs[0], ts[0]) + _real(xs[1], ts[1])
    return _clamp(y, node.attrs.get("clamp"))


def concat(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    if out.dtype == "bits":
        return np.concatenate(xs, axis=3)
    return np.concatenate([_real(x, t) for x, t in zip(xs, ts, strict=True)], axis=3)


def add_into(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """The second input added into the first's channels [offset, offset + its channels)."""
    y = _real(xs[0], ts[0]).copy()
    offset = node.attrs["offset"]
    y[..., offset:offset + ts[1].channels] += _real(xs[1], ts[1])
    return y


def input_scale(x: np.ndarray, kernel: tuple[int, int], attrs: Mapping[str, Any]) -> np.ndarray:
    """XNOR-Net's K (N, OH, OW, 1): mean |x| over channels, box-filtered over the
    conv's window (zero padding, every tap 1 / (kh * kw))."""
    a = np.abs(x.astype(np.float64)).mean(axis=3, keepdims=True)
    box = np.full((1, *kernel, 1), 1.0 / (kernel[0] * kernel[1]))
    return grouped_conv(a, box, attrs["stride"], attrs["padding"], 0.0, 1,
                        attrs.get("dilation", (1, 1)))


def kconv(node: Node, xs: list[np.ndarray], ts: list[Tensor], out: Tensor) -> np.ndarray:
    """conv(bits) * K(x), then the per-channel scale and shift (XNOR-Net's input scaling)."""
    a, w = node.attrs, node.arrays["weight"]
    y = grouped_conv(_real(xs[0], ts[0]), w, a["stride"], a["padding"], a["pad_value"],
                     a["groups"], a.get("dilation", (1, 1)))
    y = y * input_scale(xs[1], w.shape[1:3], a) * node.arrays["scale"] + node.arrays["shift"]
    return _clamp(y, a.get("clamp"))
