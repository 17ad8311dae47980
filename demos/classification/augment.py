"""Paper-and-camera augmentation for 20x20 digit cells (numpy + cv2).

A cell (white ink on black, as in digits.png and as the demo's preprocessing
delivers after inversion) is drawn into a 28x28 frame with random scale
(0.8-1.15), rotation (+-12 deg) and shift (+-2 px), stroke thickness (15%
eroded, 20% dilated, at 2x resolution), blur (30%), contrast and brightness,
sensor noise (sigma up to 10), then the demo's auto-contrast (``preprocess.stretch``), or,
for 20%, Otsu binarization (what ``--threshold`` does in the demo). A BNN
does not learn through raw brightness changes (its first sign sees them
whole), so the model is trained on exactly what the preprocessing delivers.
"""

from __future__ import annotations

import cv2
import numpy as np

from .preprocess import stretch

SIZE = 28


def place(cell: np.ndarray, scale: float = 1.0, angle: float = 0.0,
          shift: tuple[float, float] = (0.0, 0.0), up: int = 2) -> np.ndarray:
    """A 20x20 cell centred in a SIZExSIZE frame (rendered at ``up`` x resolution)."""
    big = cv2.resize(cell, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR)
    c = big.shape[0] / 2
    m = cv2.getRotationMatrix2D((c, c), angle, scale)
    m[:, 2] += SIZE * up / 2 - c + np.array(shift) * up
    return cv2.warpAffine(big, m, (SIZE * up, SIZE * up), flags=cv2.INTER_LINEAR,
                          borderValue=0)


def render_clean(cells: np.ndarray) -> np.ndarray:
    """(N, 20, 20) -> (N, 28, 28) uint8, no augmentation (the test view)."""
    return np.stack([stretch(cv2.resize(place(c), (SIZE, SIZE), interpolation=cv2.INTER_AREA))
                     for c in cells])


def augment_one(cell: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img = place(cell, scale=rng.uniform(0.8, 1.15), angle=rng.uniform(-12, 12),
                shift=tuple(rng.uniform(-2, 2, 2)))
    r = rng.random()
    if r < 0.15:
        img = cv2.erode(img, np.ones((3, 3), np.uint8))
    elif r < 0.35:
        img = cv2.dilate(img, np.ones((rng.integers(2, 4),) * 2, np.uint8))
    img = cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.0))
    if rng.random() < 0.15:   # what --threshold delivers: clean black and white
        _, img = cv2.threshold(img.astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        return img
    lo, hi = rng.uniform(0, 70), rng.uniform(150, 255)
    img = lo + (hi - lo) * img / 255.0
    img += rng.normal(0, rng.uniform(0, 10), img.shape)
    return stretch(np.clip(img, 0, 255).astype(np.uint8))


def augment(cells: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([augment_one(c, rng) for c in cells])
