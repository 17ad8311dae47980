"""PCK: the fraction of keypoints a model puts near the reference (the teacher's).

PCK@a counts a keypoint as correct when it lies within ``a * size`` of the
reference keypoint, where ``size`` is the long side of the bounding box of
the person's reference keypoints (those the teacher sees, visibility >= 0.5),
in the same pixels as the keypoints. Only keypoints the teacher sees are
counted. ``torso_size`` (left shoulder to right hip) gives the stricter
torso-relative variant.
"""

from __future__ import annotations

import numpy as np

VISIBLE = 0.5            # teacher visibility from which a keypoint counts


def box_size(reference: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(N,) long side of the box around each person's visible reference keypoints."""
    pts = np.where(visible[..., None], reference, np.nan)
    span = np.nanmax(pts, axis=1) - np.nanmin(pts, axis=1)
    return np.nanmax(span, axis=1)


def torso_size(reference: np.ndarray) -> np.ndarray:
    """(N,) distance from the left shoulder to the right hip."""
    return np.linalg.norm(reference[:, 5] - reference[:, 12], axis=-1)


def pck_hits(pred: np.ndarray, reference: np.ndarray, visibility: np.ndarray,
             alpha: float = 0.2, size: np.ndarray | None = None) -> tuple[int, int]:
    """(correct, counted) keypoints of (N, 17, 2) predictions against the reference."""
    visible = visibility >= VISIBLE
    usable = visible.sum(1) >= 2                     # a box needs two points
    visible = visible & usable[:, None]
    if size is None:
        size = np.where(usable, box_size(np.where(usable[:, None, None], reference, 0),
                                         np.where(usable[:, None], visible, True)), 1.0)
    dist = np.linalg.norm(pred - reference, axis=-1)
    correct = (dist <= alpha * size[:, None]) & visible
    return int(correct.sum()), int(visible.sum())


def pck(pred: np.ndarray, reference: np.ndarray, visibility: np.ndarray,
        alpha: float = 0.2, size: np.ndarray | None = None) -> float:
    correct, counted = pck_hits(pred, reference, visibility, alpha, size)
    return correct / counted if counted else float("nan")
