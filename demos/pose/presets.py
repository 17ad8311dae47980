"""The shipped pose model and held-out clip (paths only: no torch, no cv2)."""

from __future__ import annotations

from pathlib import Path

from ...errors import ModelFileError

HERE = Path(__file__).resolve().parent
POSE_MODEL = HERE / "models" / "pose.pt"
PERSON_MODEL = HERE / "models" / "person.pt"   # the person detector
HELDOUT_CLIP = HERE / "data" / "heldout_clip.mp4"
HELDOUT_KEYPOINTS = HERE / "data" / "heldout_clip.npz"


def resolve_pose_model(spec: str) -> Path:
    """pose (the shipped model) | PATH (a model.pt, an IR directory or a generated project)."""
    path = POSE_MODEL if spec == "pose" else Path(spec)
    if spec == "pose" and not path.exists():
        raise ModelFileError(f"{path}: the shipped pose model is missing; re-create it with "
                             f"python -m bnnkit.demos.pose.train")
    if not path.exists():
        raise ModelFileError(f"model {spec}: no such file; use pose or the path of a "
                             f"model.pt written by bnnkit.save")
    return path
