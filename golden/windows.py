"""Sliding windows over NHWC arrays, shared by every conv and pool op."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def out_size(size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    return (size + pad_before + pad_after - kernel) // stride + 1


def windows(x: np.ndarray, kernel: Sequence[int], stride: Sequence[int],
            padding: Sequence[int], pad_value: float | int,
            dilation: Sequence[int] = (1, 1)) -> np.ndarray:
    """(N, H, W, C) -> (N, OH, OW, KH, KW, C) views of the padded input.

    ``padding`` is (top, left, bottom, right); taps are ``dilation`` apart.
    """
    top, left, bottom, right = padding
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)),
                    constant_values=pad_value)
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    win = sliding_window_view(padded, span, axis=(1, 2))  # N, H', W', C, KH', KW'
    win = win[:, ::sh, ::sw, :, ::dh, ::dw]
    return np.moveaxis(win, 3, -1)  # N, OH, OW, KH, KW, C


def grouped_conv(x: np.ndarray, weight: np.ndarray, stride: Sequence[int],
                 padding: Sequence[int], pad_value: float, groups: int,
                 dilation: Sequence[int] = (1, 1)) -> np.ndarray:
    """Exact for integer-valued inputs: float64 sums of products.

    x: (N, H, W, C); weight: (O, KH, KW, C // groups). Returns (N, OH, OW, O).
    """
    o, kh, kw, ig = weight.shape
    win = windows(x.astype(np.float64), (kh, kw), stride, padding, pad_value, dilation)
    n, oh, ow = win.shape[:3]
    if groups == 1:
        cols = win.reshape(n * oh * ow, kh * kw * ig)
        out = cols @ weight.reshape(o, -1).astype(np.float64).T
        return out.reshape(n, oh, ow, o)
    og = o // groups
    win = win.reshape(n, oh, ow, kh, kw, groups, ig)
    w = weight.reshape(groups, og, kh, kw, ig).astype(np.float64)
    out = np.einsum("nyxklgi,goikl->nyxgo", win, np.moveaxis(w, 4, 2), optimize=True)
    return out.reshape(n, oh, ow, o)
