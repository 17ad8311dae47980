"""Overlay text that stays inside the frame, whatever the frame's size.

Device-side (cv2 only).
"""

from __future__ import annotations

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX


def text_scale(width: int) -> float:
    """The font scale for a frame ``width`` pixels wide (0.4 at 320, 0.8 from 640)."""
    return max(0.35, min(width, 640) / 800)


def put_text(img: np.ndarray, text: str, org: tuple[int, int], scale: float,
             colour: tuple[int, int, int], right: int | None = None) -> None:
    """``text`` at ``org`` (left, baseline), shrunk until it ends before ``right``
    (default: the image's right edge less a margin)."""
    right = img.shape[1] - 4 if right is None else right
    room = max(right - org[0], 1)
    width = cv2.getTextSize(text, FONT, scale, 1)[0][0]
    if width > room:
        scale *= room / width
    cv2.putText(img, text, org, FONT, scale, colour, 1, cv2.LINE_AA)
