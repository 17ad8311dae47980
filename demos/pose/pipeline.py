"""The live pose loop: source -> person crop -> generated C -> keypoints -> skeleton -> display.

Device-side module: numpy, cffi (through bnnkit.runtime) and cv2; no torch.

    pose = PoseEstimator("project_dir", library="libpose.so")
    finder = PersonFinder("detect", PersonDetector("detector_project_dir"))
    run(pose, finder, FileSource("clip.mp4"), WebDisplay(8000))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...errors import ModelFileError
from ...runtime import CModel
from ...runtime.layout import dequantize
from ..display import Display
from ..loop import Timing, run_loop
from ..sources import FrameSource
from ..text import put_text, text_scale
from .decode import decode
from .keypoints import COCO_KEYPOINTS, SKELETON, crop_square, crop_to_frame
from .person import PersonFinder

THRESHOLD = 0.3          # default confidence from which a joint is drawn
LEFT, RIGHT, MIDDLE = (80, 220, 80), (40, 160, 255), (230, 230, 230)     # BGR


class PoseEstimator:
    """A generated C pose network: a square grey crop in, 17 keypoints and confidences out."""

    def __init__(self, project_dir: str | Path, library: str | Path | None = None) -> None:
        self.model = CModel(project_dir, library=library)
        inp, out = self.model.input, self.model.output
        if inp.dtype != "uint8" or inp.shape[3] != 1 or inp.shape[1] != inp.shape[2]:
            raise ModelFileError(f"{project_dir}: a pose model takes square grey uint8 pixels "
                                 f"(1, S, S, 1), this one {inp.dtype} {inp.shape}; save it with "
                                 f"bnnkit.save(..., normalize=(mean, std))")
        if len(out.shape) != 4 or out.shape[3] != len(COCO_KEYPOINTS):
            raise ModelFileError(f"{project_dir}: a pose model gives (1, H, W, 17) heatmaps, "
                                 f"this one {out.shape}")
        self.size = inp.shape[1]
        self.stride = self.size // out.shape[1]

    def __call__(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(keypoints (17, 2) in crop pixels, confidence (17,), seconds in C) of one crop."""
        t0 = time.perf_counter()
        q = self.model.run_int(crop.reshape(1, self.size, self.size, 1))
        seconds = time.perf_counter() - t0
        heatmaps = dequantize(q, self.model.output)[0].transpose(2, 0, 1)
        points, confidence = decode(heatmaps, self.stride)
        return points, confidence, seconds

    def crop(self, frame: np.ndarray, square: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        return crop_square(grey, square, self.size)


@dataclass
class PoseResult:
    index: int
    keypoints: np.ndarray     # (17, 2) frame pixels
    confidence: np.ndarray    # (17,)
    square: np.ndarray        # the crop (x0, y0, x1, y1) in the frame
    inference_s: float
    frame_s: float = 0.0


class Smoother:
    """Exponential smoothing of keypoints across frames (``alpha`` = weight of the past)."""

    def __init__(self, alpha: float) -> None:
        self.alpha, self.points = alpha, None

    def __call__(self, points: np.ndarray) -> np.ndarray:
        if self.alpha <= 0 or self.points is None:
            self.points = points
        else:
            self.points = self.alpha * self.points + (1 - self.alpha) * points
        return self.points


def _side(k: int) -> tuple[int, int, int]:
    name = COCO_KEYPOINTS[k]
    return LEFT if name.startswith("left") else RIGHT if name.startswith("right") else MIDDLE


def draw_skeleton(frame: np.ndarray, points: np.ndarray, confidence: np.ndarray,
                  threshold: float = THRESHOLD, thickness: int | None = None) -> np.ndarray:
    """Limbs between joints seen with ``confidence >= threshold``, and the joints, on a copy.

    Left limbs green, right orange, the rest white (the person's left, as in COCO).
    """
    out = frame.copy()
    thickness = thickness or max(1, round(min(frame.shape[:2]) / 160))
    seen = confidence >= threshold
    pts = np.round(points).astype(int)
    for a, b in SKELETON:
        if seen[a] and seen[b]:
            colour = _side(a) if _side(a) == _side(b) else MIDDLE
            cv2.line(out, tuple(pts[a]), tuple(pts[b]), colour, thickness, cv2.LINE_AA)
    for k in np.flatnonzero(seen):
        cv2.circle(out, tuple(pts[k]), thickness + 2, _side(k), -1, cv2.LINE_AA)
    return out


def draw_overlay(frame: np.ndarray, result: PoseResult, crop: np.ndarray, timing: Timing,
                 threshold: float) -> np.ndarray:
    """Skeleton, the crop's square, the model-input inset, FPS and latencies."""
    out = draw_skeleton(frame, result.keypoints, result.confidence, threshold)
    h, w = out.shape[:2]
    x0, y0, x1, y1 = np.round(result.square).astype(int)
    cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), (0, 200, 255), 1)
    side = min(64, h // 4, w // 4)
    inset = cv2.resize(crop, (side, side), interpolation=cv2.INTER_NEAREST)
    out[h - side - 2:h - 2, w - side - 2:w - 2] = cv2.cvtColor(inset, cv2.COLOR_GRAY2BGR)
    seen = int((result.confidence >= threshold).sum())
    scale = text_scale(w)
    put_text(out, f"{seen}/17 joints  {timing.line()}", (6, int(40 * scale) + 2), scale,
             (0, 200, 255))
    return out


def describe(result: PoseResult, threshold: float) -> dict:
    seen = result.confidence >= threshold
    return {"keypoints": [[float(x), float(y), float(c)] for (x, y), c
                          in zip(result.keypoints, result.confidence, strict=True)],
            "names": list(COCO_KEYPOINTS), "square": [float(v) for v in result.square],
            "headline": f"{int(seen.sum())} of 17 joints",
            "rows": [(COCO_KEYPOINTS[k].replace("_", " "), f"{result.confidence[k]:.2f}")
                     for k in np.flatnonzero(seen)],
            "note": ""}


def run(pose: PoseEstimator, finder: PersonFinder, source: FrameSource, display: Display,
        frames: int | None = None, max_fps: float | None = None, smooth: float = 0.0,
        threshold: float = THRESHOLD,
        on_result: Callable[[PoseResult, dict], None] | None = None) -> list[PoseResult]:
    """Estimate the pose in frames until the source ends, ``frames`` are done or the
    display closes (see loop.run_loop for ``max_fps`` and ``on_result``)."""
    timing = Timing()
    smoother = Smoother(smooth)

    def process(index: int, frame: np.ndarray) -> tuple[PoseResult, np.ndarray]:
        tried = []
        for square in finder.candidates(frame):
            crop = pose.crop(frame, square)
            tried.append((square, crop, *pose(crop)))
        # the square where the network sees the most joints (then the surest ones)
        square, crop, points, confidence, _ = max(
            tried, key=lambda t: ((t[3] >= threshold).sum(), t[3].sum()))
        inference_s = finder.seconds + sum(t[4] for t in tried)    # both networks' C
        found = crop_to_frame(points, square, pose.size)
        finder.observe(found, confidence >= threshold, frame.shape)
        keypoints = smoother(found)
        result = PoseResult(index, keypoints, confidence, square, inference_s)
        return result, draw_overlay(frame, result, crop, timing, threshold)

    return run_loop(process, source, display, timing, lambda r: describe(r, threshold),
                    frames, max_fps, on_result)
