"""The binary person detector as the Pi runs it: frame -> canvas -> generated C -> square.

Device-side module: numpy, cv2 and cffi (through bnnkit.runtime); no torch.

The frame is turned grey and letterboxed into a 64x48 canvas (area resize,
centred, black bars: numpy + OpenCV). The network (detector_net.py) gives, on
a 16x12 grid of 4x4-pixel cells, CenterNet style: a person-centre logit, the
centre's offset inside the cell and the log of the person square's side. It
runs twice, on the canvas and on its mirror image, and the two centre logits
are averaged (the mirrored one mirrored back): a person is a person either
way round, while a spurious peak on one run often is not on the other. The
offset and side are the canvas's own run's (averaging them too scored lower
on the validation stretches of the training clips). The best cell is the
person; its square is the crop the pose network looks at (the training
crops' framing: 1.25 x the long side of the person's box).
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from ...errors import ModelFileError
from ...runtime import CModel
from ...runtime.layout import dequantize
from .keypoints import iou

CANVAS_W, CANVAS_H = 64, 48      # detector input (4:3, like a 320x240 camera frame)
RUNS = 2                         # C runs a frame: the canvas and its mirror image
STRIDE = 4                       # canvas pixels per output cell
OFFSET_GAIN = 4.0                # outputs 1, 2: 4 x the centre's offset in its cell (0..1)
SIZE_GAIN = 4.0                  # output 3: 4 x log(square side / canvas height)
OVERLAP = 0.3                    # IoU from which a square proposes a surer one's person again


def letterbox(grey: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """(canvas (48, 64) uint8, scale, (x, y) offset): the frame shrunk by ``scale`` and
    centred in the canvas, black around it; canvas = frame * scale + offset."""
    h, w = grey.shape[:2]
    scale = min(CANVAS_W / w, CANVAS_H / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(grey, (nw, nh), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((CANVAS_H, CANVAS_W), np.uint8)
    ox, oy = (CANVAS_W - nw) // 2, (CANVAS_H - nh) // 2
    canvas[oy:oy + nh, ox:ox + nw] = small
    return canvas, scale, np.array([ox, oy], np.float32)


def decode_squares(maps: np.ndarray, top: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(squares (top, 4) in canvas pixels, centre logits (top,)) of the ``top`` best cells
    of the detector's (12, 16, 4) output, each overlapping none of the surer ones by
    IoU >= OVERLAP (neighbouring cells of one peak would propose the same person twice)."""
    logits = maps[..., 0]
    order = np.argsort(logits, axis=None)[::-1]
    rows, cols = np.unravel_index(order, logits.shape)
    cell = maps[rows, cols]
    cx = (cols + np.clip(cell[:, 1] / OFFSET_GAIN, 0, 1)) * STRIDE
    cy = (rows + np.clip(cell[:, 2] / OFFSET_GAIN, 0, 1)) * STRIDE
    half = np.exp(cell[:, 3] / SIZE_GAIN) * CANVAS_H / 2
    squares = np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)
    keep: list[int] = []
    for i, square in enumerate(squares):
        if all(iou(square, squares[j]) < OVERLAP for j in keep):
            keep.append(i)
            if len(keep) == top:
                break
    return squares[keep].astype(np.float32), logits[rows[keep], cols[keep]]


class PersonDetector:
    """A generated C person detector: ``detector(frame, top)`` gives its surest squares."""

    def __init__(self, project_dir: str | Path, library: str | Path | None = None) -> None:
        self.model = CModel(project_dir, library=library)
        inp, out = self.model.input, self.model.output
        if inp.dtype != "uint8" or tuple(inp.shape) != (1, CANVAS_H, CANVAS_W, 1):
            raise ModelFileError(f"{project_dir}: a person detector takes grey uint8 pixels "
                                 f"(1, {CANVAS_H}, {CANVAS_W}, 1), this one {inp.dtype} "
                                 f"{inp.shape}")
        if tuple(out.shape) != (1, CANVAS_H // STRIDE, CANVAS_W // STRIDE, 4):
            raise ModelFileError(f"{project_dir}: a person detector gives (1, "
                                 f"{CANVAS_H // STRIDE}, {CANVAS_W // STRIDE}, 4) maps, this one "
                                 f"{out.shape}")

    def maps(self, canvas: np.ndarray) -> tuple[np.ndarray, float]:
        """The (12, 16, 4) output of one canvas, and the seconds in C."""
        t0 = time.perf_counter()
        q = self.model.run_int(canvas.reshape(1, CANVAS_H, CANVAS_W, 1))
        seconds = time.perf_counter() - t0
        return dequantize(q, self.model.output)[0], seconds

    def mirror_averaged_maps(self, canvas: np.ndarray) -> tuple[np.ndarray, float]:
        """The canvas's output with its centre logits averaged with those of its mirror
        image (mirrored back), and the seconds in C of both runs."""
        maps, seconds = self.maps(canvas)
        mirrored, mirror_seconds = self.maps(np.ascontiguousarray(canvas[:, ::-1]))
        maps[..., 0] = (maps[..., 0] + mirrored[:, ::-1, 0]) / 2
        return maps, seconds + mirror_seconds

    def __call__(self, frame: np.ndarray, top: int = 1) -> tuple[np.ndarray, float]:
        """(squares (top, 4) in frame pixels of the ``top`` surest cells of the
        mirror-averaged output, best first; the seconds in C)."""
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        canvas, scale, offset = letterbox(grey)
        maps, seconds = self.mirror_averaged_maps(canvas)
        squares, _ = decode_squares(maps, top)
        return (squares - np.tile(offset, 2)) / scale, seconds
