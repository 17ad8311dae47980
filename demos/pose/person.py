"""Where the person is: the square crop the pose network looks at (numpy + OpenCV).

``detect``  the binary person detector (detector.py, generated C like the pose
            network, run on the frame and its mirror image) proposes, the pose
            network verifies and tracks: on every frame the squares of the
            detector's 2 surest cells that do not overlap (framed as the
            training crops were: 1.25 x the box's long side) and the square
            around the last frame's keypoints are tried, and the pipeline keeps
            the one where the pose network sees the most joints. The default;
            at most 3 pose runs and two detector runs a frame.
``track``   like BlazePose: the next frame's square comes from this frame's
            keypoints (their box, padded as the training crops were). To
            start, and whenever fewer than 4 joints are seen, it searches:
            the detector's square if it finds someone, and squares of the
            frame's height and of 2/3 of it sliding across the frame; the
            pipeline runs the pose network on each and keeps the square where
            it sees the most joints.
``full``    the whole frame, centred in a square (one person filling the view,
            e.g. in front of a webcam).

OpenCV's HOG people detector (``detect_people``) labels the training data
(label.py); it is too slow for a Pi at frame rate and finds nobody in the
held-out clip, so the demo uses the binary detector.
"""

from __future__ import annotations

import cv2
import numpy as np

from .detector import PersonDetector
from .keypoints import square_box

CROP_SCALE = 1.25        # square side / person box long side, as in the labelled crops
# A HOG window is 64x128 with the person ~96 px tall in it; boxes around
# keypoints are tight, so they are padded by about 128/96 to frame people alike.
LANDMARK_PAD = 1.3
MIN_JOINTS = 4           # tracking needs this many confident joints
PROPOSALS = 2            # detector squares the pose network tries on each frame (detect)
_HOG: cv2.HOGDescriptor | None = None


def detect_people(frame: np.ndarray, upscale: float = 1.0, nms_iou: float = 0.3
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes (n, 4) as (x0, y0, x1, y1) and their SVM scores, after non-max suppression."""
    global _HOG
    if _HOG is None:
        _HOG = cv2.HOGDescriptor()
        _HOG.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    img = cv2.resize(frame, None, fx=upscale, fy=upscale) if upscale != 1.0 else frame
    rects, weights = _HOG.detectMultiScale(img, winStride=(8, 8), padding=(8, 8), scale=1.05)
    if len(rects) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    rects = np.asarray(rects, np.float32) / upscale
    weights = np.ravel(weights).astype(np.float32)
    keep = np.ravel(cv2.dnn.NMSBoxes(rects.tolist(), weights.tolist(), 0.0, nms_iou))
    rects, weights = rects[keep], weights[keep]
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
    return boxes, weights


def keypoint_box(points: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray | None:
    """Person box (x0, y0, x1, y1) around keypoints (n, 2) in frame pixels, padded by
    LANDMARK_PAD and kept in the frame (a head-and-shoulders shot should not grow a
    box around guessed legs); None if nothing is left."""
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hw, hh = LANDMARK_PAD * (x1 - x0) / 2, LANDMARK_PAD * (y1 - y0) / 2
    h, w = frame_shape[:2]
    box = np.array([max(cx - hw, 0), max(cy - hh, 0), min(cx + hw, w), min(cy + hh, h)],
                   np.float32)
    return box if box[2] > box[0] and box[3] > box[1] else None


def full_frame_square(shape: tuple[int, ...]) -> np.ndarray:
    h, w = shape[:2]
    return square_box(np.array([0, 0, w, h], np.float32), 1.0)


def sliding_squares(shape: tuple[int, ...]) -> list[np.ndarray]:
    """Squares of the frame's short side and 2/3 of it, at half-side steps over the frame."""
    h, w = shape[:2]
    out = []
    for side in (min(h, w), min(h, w) * 2 / 3):
        xs = np.linspace(0, w - side, max(1, int(np.ceil((w - side) / (side / 2))) + 1))
        ys = np.linspace(0, h - side, max(1, int(np.ceil((h - side) / (side / 2))) + 1))
        out += [np.array([x, y, x + side, y + side], np.float32) for y in ys for x in xs]
    return out


class PersonFinder:
    """``finder.candidates(frame)``: the squares (x0, y0, x1, y1) the pose network tries on
    a frame; ``finder.observe(...)``: the keypoints it found. See the module doc for modes.

    ``detect`` and ``track`` need the person ``detector``; ``seconds`` is the time the
    last frame spent in its C.
    """

    MODES = ("detect", "track", "full")

    def __init__(self, mode: str = "detect", detector: PersonDetector | None = None) -> None:
        if mode not in self.MODES:
            raise ValueError(f"person finder {mode!r}: choose one of {', '.join(self.MODES)}")
        if mode != "full" and detector is None:
            raise ValueError(f"person finder {mode!r} needs the person detector")
        self.mode, self.detector = mode, detector
        self.tracked: np.ndarray | None = None
        self.seconds = 0.0

    def observe(self, points: np.ndarray, seen: np.ndarray, frame_shape: tuple[int, ...]
                ) -> None:
        """The keypoints (17, 2) found in this frame (frame pixels), ``seen`` the confident ones."""
        box = keypoint_box(points[seen], frame_shape) if seen.sum() >= MIN_JOINTS else None
        self.tracked = square_box(box, CROP_SCALE) if box is not None else None

    def candidates(self, frame: np.ndarray) -> list[np.ndarray]:
        """The squares to try on this frame (the pipeline keeps the one where the pose
        network sees the most joints)."""
        self.seconds = 0.0
        if self.mode == "full":
            return [full_frame_square(frame.shape)]
        if self.mode == "track":
            if self.tracked is not None:
                return [self.tracked]
            return self._detect(frame, 1) + sliding_squares(frame.shape)
        return self._detect(frame, PROPOSALS) + ([] if self.tracked is None else [self.tracked])

    def _detect(self, frame: np.ndarray, top: int) -> list[np.ndarray]:
        """The squares of the detector's ``top`` surest cells."""
        squares, self.seconds = self.detector(frame, top)
        return list(squares)


class GivenSquares:
    """A finder that takes each frame's square from a list (another detector's output,
    or the teacher's in the evaluation); a NaN row means the whole frame."""

    def __init__(self, squares: np.ndarray) -> None:
        self.squares, self.index = np.asarray(squares, np.float32), 0
        self.seconds = 0.0

    def candidates(self, frame: np.ndarray) -> list[np.ndarray]:
        square = self.squares[min(self.index, len(self.squares) - 1)]
        self.index += 1
        return [full_frame_square(frame.shape) if np.isnan(square).any() else square]

    def observe(self, points: np.ndarray, seen: np.ndarray, frame_shape: tuple[int, ...]
                ) -> None:
        pass
