"""The shipped pose set: teacher-labelled person crops (see label.py), split by clip.

``data/pose_crops.npz``: ``images`` (N, 96, 96) grey uint8 crops, ``keypoints``
(N, 17, 2) COCO-17 (x, y) in crop pixels, ``visibility`` (N, 17) the
teacher's visibility, ``split`` ("train"/"test": whole source clips apart),
and the provenance of each crop (source, frame, box).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .nets import INPUT

DATA = Path(__file__).resolve().parent / "data"
CROPS = DATA / "pose_crops.npz"


@dataclass
class PoseSet:
    images: np.ndarray          # (N, S, S) uint8
    keypoints: np.ndarray       # (N, 17, 2) float32, pixels of the S x S crop
    visibility: np.ndarray      # (N, 17) float32
    source: np.ndarray          # (N,) str

    def __len__(self) -> int:
        return len(self.images)

    def at_input_size(self, size: int = INPUT) -> PoseSet:
        """The crops area-resized to the network input (as the demo's crops are)."""
        s = size / self.images.shape[-1]
        images = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA)
                           for im in self.images])
        return PoseSet(images, self.keypoints * s, self.visibility, self.source)


def load(split: str, path: Path = CROPS) -> PoseSet:
    """The ``train`` or ``test`` crops of the shipped set."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: the labelled pose set is missing; re-create it with "
                                f"python -m bnnkit.demos.pose.label --fetch")
    with np.load(path) as z:
        keep = z["split"] == split
        return PoseSet(z["images"][keep], z["keypoints"][keep].astype(np.float32),
                       z["visibility"][keep].astype(np.float32), z["source"][keep])
