"""Camera frame -> model input, the same on the host and on the Pi (numpy + cv2).

1. centre crop: the largest centred square times ``crop`` (0.8: the middle
   80% of the short side; the overlay draws this box, aim the object into it);
2. grey (or RGB for a 3-channel model);
3. resize to the model's input (e.g. 28x28) with area averaging;
4. ``invert``: 255 - p, so dark ink on white paper becomes the white-on-black
   the models were trained on (on by default for digits);
5. ``autocontrast``: stretch the 1st..99th percentile to 0..255 when the
   image has some contrast (on by default for digits);
6. ``threshold``: Otsu black and white (for paper digits under uneven light).

The result is raw uint8 pixels: the generated C applies the model's
normalization itself (a per-channel table).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def stretch(img: np.ndarray) -> np.ndarray:
    """Auto-contrast: the 1st..99th percentile to 0..255 when there is some contrast."""
    lo, hi = np.percentile(img, (1, 99))
    if hi - lo <= 40:
        return img
    return np.clip((img.astype(np.float32) - lo) * (255 / (hi - lo)), 0, 255).astype(np.uint8)


@dataclass
class Preprocess:
    size: tuple[int, int] = (28, 28)      # (height, width) of the model input
    channels: int = 1
    crop: float = 0.8
    invert: bool = False
    autocontrast: bool = False
    threshold: bool = False

    def box(self, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the centre crop in a frame of ``shape``."""
        h, w = shape[:2]
        aspect = self.size[1] / self.size[0]
        ch = int(min(h, w / aspect) * self.crop)
        cw = int(ch * aspect)
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        return x0, y0, x0 + cw, y0 + ch

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """BGR (or grey) frame -> (H, W, C) uint8 model input."""
        x0, y0, x1, y1 = self.box(frame.shape)
        crop = frame[y0:y1, x0:x1]
        if self.channels == 1:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
        else:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB if crop.ndim == 3 else
                                cv2.COLOR_GRAY2RGB)
        img = cv2.resize(crop, (self.size[1], self.size[0]), interpolation=cv2.INTER_AREA)
        if self.invert:
            img = 255 - img
        if self.autocontrast:
            img = stretch(img)
        if self.threshold and self.channels == 1:
            _, img = cv2.threshold(img, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        return img.reshape(self.size[0], self.size[1], self.channels)
