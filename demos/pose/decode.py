"""Heatmaps -> keypoints with sub-pixel refinement (numpy only: runs on the Pi).

Coordinates are continuous pixels of the network input: the input's left
edge is x = 0, its right edge x = 64, and heatmap cell ``j`` covers input
pixels ``[4j, 4j + 4)``, so its centre is ``4j + 2``.

Each keypoint's 16x16 map is a spatial softmax. The peak cell is refined by
fitting a parabola through the log-probabilities of its two neighbours along
each axis (a quarter-cell shift is typical; it is what makes a 4-pixel grid
good enough). Confidence is the probability mass of the 3x3 cells around
the peak: near 1 for a sharp single peak, low for a flat or split map.
"""

from __future__ import annotations

import numpy as np


def log_softmax_maps(logits: np.ndarray) -> np.ndarray:
    """(K, H, W) logits -> (K, H, W) log-probabilities of a softmax over each map."""
    flat = logits.reshape(len(logits), -1).astype(np.float64)
    flat = flat - flat.max(1, keepdims=True)
    flat = flat - np.log(np.exp(flat).sum(1, keepdims=True))
    return flat.reshape(logits.shape)


def _offset(before: float, at: float, after: float) -> float:
    curvature = before - 2 * at + after
    if curvature >= 0:                      # not a maximum along this axis
        return 0.0
    return float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))


def decode(logits: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(K, H, W) heatmap logits, ``stride`` input pixels per cell -> keypoints (K, 2) as
    (x, y) input pixels, confidence (K,)."""
    logp = log_softmax_maps(logits)
    k, h, w = logp.shape
    points = np.zeros((k, 2), np.float32)
    confidence = np.zeros(k, np.float32)
    for i in range(k):
        y, x = np.unravel_index(int(np.argmax(logp[i])), (h, w))
        dx = _offset(logp[i, y, x - 1], logp[i, y, x], logp[i, y, x + 1]) if 0 < x < w - 1 else 0
        dy = _offset(logp[i, y - 1, x], logp[i, y, x], logp[i, y + 1, x]) if 0 < y < h - 1 else 0
        points[i] = ((x + dx + 0.5) * stride, (y + dy + 0.5) * stride)
        confidence[i] = np.exp(logp[i, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]).sum()
    return points, confidence
