"""The README's picture: a held-out frame, the BNN's skeleton beside the teacher's.

    python -m bnnkit.demos.pose.make_figure [--frame K] [--out docs/pose_heldout.png]

Runs the demo pipeline (generated C on the host) over the held-out clip, by
default as `bnn-demo pose` runs it (the person detector's squares), and draws, for frame K
(default: the scored frame with the most keypoints the teacher sees), the
teacher's keypoints on the left and the BNN's on the right with its PCK@0.2
for that frame.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from ..sources import FileSource
from .evaluate import clip_results
from .metrics import VISIBLE, pck
from .pipeline import draw_skeleton
from .presets import HELDOUT_CLIP, POSE_MODEL

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 24), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def figure(frame_no: int | None, person: str) -> np.ndarray:
    from ..classification.engine import host_project
    frames = list(FileSource(HELDOUT_CLIP, loop=False))
    results, reference, visibility = clip_results(host_project(POSE_MODEL), person)
    scored = ~np.isnan(reference).any(axis=(1, 2))
    if frame_no is None:
        frame_no = int(np.argmax(np.where(scored, (visibility >= VISIBLE).sum(1), -1)))
    r = results[frame_no]
    score = pck(r.keypoints[None], reference[frame_no][None], visibility[frame_no][None])
    teacher = draw_skeleton(frames[frame_no], reference[frame_no], visibility[frame_no],
                            VISIBLE)
    student = draw_skeleton(frames[frame_no], r.keypoints, r.confidence)
    x0, y0, x1, y1 = np.round(r.square).astype(int)
    cv2.rectangle(student, (x0, y0), (x1 - 1, y1 - 1), (0, 200, 255), 1)
    return np.hstack([
        _label(teacher, f"teacher (BlazePose), held-out frame {frame_no}"),
        _label(student, f"bnnkit BNNs (--person {person}), generated C: PCK@0.2 "
                        f"{100 * score:.0f}% here")])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frame", type=int, help="frame of the held-out clip")
    p.add_argument("--person", choices=("detect", "track", "full", "teacher"),
                   default="detect",
                   help="where the crop comes from: a demo person finder (default detect, "
                        "the demo's default) or the teacher's person box (the network and "
                        "decoding on their own)")
    p.add_argument("--out", type=Path, default=DOCS / "pose_heldout.png")
    args = p.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), figure(args.frame, args.person))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
