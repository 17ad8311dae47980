"""Training augmentation for the pose crops (numpy + OpenCV).

Each crop goes through one random similarity transform straight to the
network input size: scale 0.75-1.25, rotation +-30 degrees, shift +-8% of the
side, and a horizontal flip half the time (which swaps left and right
keypoints); then brightness, contrast, blur and noise, as a cheap camera
varies them. Keypoints move with the image; a keypoint pushed out of the
input is marked invisible.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .keypoints import FLIP_PERM
from .nets import INPUT


def _similarity(side: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """2x3 matrix, continuous pixel coordinates of the crop -> of the input; flipped?"""
    scale = size / side * rng.uniform(0.75, 1.25)
    angle = math.radians(rng.uniform(-30, 30))
    shift = rng.uniform(-0.08, 0.08, 2) * size
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    a = np.array([[c, -s], [s, c]])
    flip = bool(rng.random() < 0.5)
    if flip:
        a = np.diag([-1.0, 1.0]) @ a
    centre_in = np.array([side / 2, side / 2])
    b = np.array([size / 2, size / 2]) + shift - a @ centre_in
    return np.hstack([a, b[:, None]]), flip


def augment(images: np.ndarray, keypoints: np.ndarray, visibility: np.ndarray,
            rng: np.random.Generator, size: int = INPUT
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, S, S) crops, (N, 17, 2) keypoints, (N, 17) visibility -> the same at ``size``."""
    n, side = len(images), images.shape[-1]
    out = np.empty((n, size, size), np.uint8)
    kps = np.empty((n, keypoints.shape[1], 2), np.float32)
    vis = np.empty_like(visibility)
    for i in range(n):
        m, flip = _similarity(side, size, rng)
        # cv2 puts pixel centres at integers, these coordinates at +0.5.
        m_cv = m.copy()
        m_cv[:, 2] += m[:, :2] @ np.array([0.5, 0.5]) - 0.5
        im = cv2.warpAffine(images[i], m_cv, (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        pts = keypoints[i] @ m[:, :2].T + m[:, 2]
        v = visibility[i].copy()
        if flip:
            pts, v = pts[list(FLIP_PERM)], v[list(FLIP_PERM)]
        inside = np.all((pts >= 0) & (pts < size), axis=1)
        v[~inside] = 0.0
        if rng.random() < 0.3:
            im = cv2.GaussianBlur(im, (3, 3), rng.uniform(0.3, 1.0))
        gain, bias = rng.uniform(0.6, 1.4), rng.uniform(-40, 40)
        noisy = im * gain + bias + rng.normal(0, rng.uniform(0, 6), im.shape)
        out[i] = np.clip(noisy, 0, 255).astype(np.uint8)
        kps[i], vis[i] = pts, v
    return out, kps, vis
