"""COCO-17 keypoints, the BlazePose-to-COCO map and square person crops.

Plain numpy (cv2 only inside ``crop_square``): used by the labelling script on
the development machine and by the pose pipeline on the Raspberry Pi, so both
crop people the same way.
"""

from __future__ import annotations

import numpy as np

COCO_KEYPOINTS: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_KEYPOINTS = len(COCO_KEYPOINTS)

# Index of each COCO keypoint among BlazePose's 33 landmarks (mediapipe's
# PoseLandmark enum: NOSE=0, LEFT_EYE=2, RIGHT_EYE=5, LEFT_EAR=7, RIGHT_EAR=8,
# LEFT_SHOULDER=11 ... RIGHT_ANKLE=28). BlazePose's "left" is the person's
# left, as in COCO.
BLAZEPOSE_TO_COCO: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
NUM_BLAZEPOSE_LANDMARKS = 33

# After a horizontal flip the person's left side shows as their right:
# keypoint i of the flipped image is keypoint FLIP_PERM[i] of the original.
FLIP_PERM: tuple[int, ...] = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)

# Limbs to draw, as (keypoint, keypoint) pairs: the usual COCO skeleton
# (0-based indices).
SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12),
    (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9), (8, 10),
    (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

# The torso points, whose visibility says whether a body is really there.
TORSO: tuple[int, ...] = (5, 6, 11, 12)
# Nose and shoulders: what a head-and-shoulders shot must show.
UPPER: tuple[int, ...] = (0, 5, 6)


def blazepose_to_coco(landmarks: np.ndarray) -> np.ndarray:
    """Select the COCO-17 rows from BlazePose landmarks of shape (..., 33, C)."""
    landmarks = np.asarray(landmarks)
    if landmarks.shape[-2] != NUM_BLAZEPOSE_LANDMARKS:
        raise ValueError(f"expected (..., 33, C) landmarks, got {landmarks.shape}")
    return landmarks[..., BLAZEPOSE_TO_COCO, :]


def flip_keypoints(
    keypoints: np.ndarray, visibility: np.ndarray | None, width: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Keypoints (..., 17, 2) in pixels of an image ``width`` wide, after a horizontal flip.

    Pixel coordinates are continuous (the left edge of the image is x=0, the
    right edge x=width), so x maps to width - x.
    """
    kp = np.array(keypoints, dtype=np.float32)[..., FLIP_PERM, :]
    kp[..., 0] = width - kp[..., 0]
    vis = None if visibility is None else np.asarray(visibility)[..., FLIP_PERM]
    return kp, vis


def square_box(box: np.ndarray, scale: float = 1.25) -> np.ndarray:
    """Square (x0, y0, x1, y1) around a person box (x0, y0, x1, y1), ``scale`` times its long side.

    The square may leave the frame; ``crop_square`` pads what lies outside.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = scale * max(x1 - x0, y1 - y0) / 2
    return np.array([cx - half, cy - half, cx + half, cy + half], dtype=np.float32)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def crop_square(frame: np.ndarray, square: np.ndarray, size: int) -> np.ndarray:
    """Cut the square (x0, y0, x1, y1) out of ``frame`` and resize it to size x size.

    Parts outside the frame are black (not replicated: smeared borders look like
    limbs to a small network). Shrinking goes through an area resize so small
    crops do not alias.
    """
    import cv2  # here, so that importing the keypoint tables needs numpy only

    x0, y0, x1, y1 = (float(v) for v in square)
    side = x1 - x0
    # Cut at (about) native resolution first when shrinking, then area-resize.
    native = max(size, int(np.ceil(side)))
    s = native / side
    m = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]], dtype=np.float64)
    out = cv2.warpAffine(
        frame, m, (native, native), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )
    if native != size:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
    return out


def crop_to_frame(points: np.ndarray, square: np.ndarray, size: float) -> np.ndarray:
    """Map (..., 2) pixel coordinates in a size x size crop of ``square`` back to the frame."""
    x0, y0, x1, _ = (float(v) for v in square)
    return np.asarray(points, dtype=np.float32) * ((x1 - x0) / size) + np.float32([x0, y0])


def frame_to_crop(points: np.ndarray, square: np.ndarray, size: float) -> np.ndarray:
    """Map (..., 2) frame pixel coordinates into a size x size crop of ``square``."""
    x0, y0, x1, _ = (float(v) for v in square)
    return (np.asarray(points, dtype=np.float32) - np.float32([x0, y0])) * (size / (x1 - x0))
