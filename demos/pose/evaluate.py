"""PCK of the shipped pose model against the teacher, on the held-out clips only.

    python -m bnnkit.demos.pose.evaluate

* float student / BNN PyTorch / BNN generated C: PCK@0.2 (metrics.py) on the
  held-out crops (``split == "test"`` of data/pose_crops.npz), each crop
  area-resized to 64x64 as the demo crops it; float from the training
  script's final measurement, the other two re-measured here (the shipped
  program run by torch; the host C build through cffi);
* clip, end to end: the demo pipeline (person finder, crop, C model, decode,
  back to frame pixels) on data/heldout_clip.mp4, against the teacher's
  keypoints of each frame where the teacher found a person; once with the
  squares the teacher's own person boxes give (the crop, C and decoding
  measured on their own) and once with the demo's person finder (--person,
  default detect: the binary person detector's C);
* validation (``--validation``): the demo pipeline on the first frames of two
  training clips (vtest.avi's pedestrians, carphone's head and shoulders;
  the footage from ``label.py --fetch``), scored on their labelled frames
  against the labelled person the prediction matches best. The networks
  trained on these frames, so the figure flatters them; it is what the
  person finder's rules (mirror averaging, non-max suppression, how many
  proposals) were chosen by, never the held-out clip;
* the person detector alone (generated C, on the canvas and its mirror image
  as the demo runs it) on the same frames: the share of frames whose square
  overlaps the teacher's square with IoU >= 0.5.

Writes models/pose.eval.json (read by make_card) and prints a table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .dataset import load
from .keypoints import iou
from .label import CROP, DEFAULT_SOURCES
from .metrics import pck, pck_hits
from .presets import HELDOUT_CLIP, HELDOUT_KEYPOINTS, PERSON_MODEL, POSE_MODEL


def c_keypoints(project, images: np.ndarray) -> np.ndarray:  # noqa: ANN001 - Path
    from .pipeline import PoseEstimator
    pose = PoseEstimator(project)
    return np.stack([pose(im)[0] for im in images])


def torch_keypoints(images: np.ndarray) -> np.ndarray:
    import torch

    from ...export.modelfile import load as load_model
    from .train import predict_keypoints, to_input
    module = load_model(POSE_MODEL).program.module()
    with torch.no_grad():
        return predict_keypoints(module(to_input(images)).numpy())


def heldout_canvases() -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """(detector canvases of the held-out frames where the teacher found the person, the
    teacher's squares there, the letterbox scale and offset)."""
    import cv2

    from ..sources import FileSource
    from .detector import letterbox
    with np.load(HELDOUT_KEYPOINTS) as z:
        squares = z["box"]
    scored = np.flatnonzero(~np.isnan(squares).any(1))
    frames = list(FileSource(HELDOUT_CLIP, loop=False))
    boxed = [letterbox(cv2.cvtColor(frames[k], cv2.COLOR_BGR2GRAY)) for k in scored]
    _, scale, offset = boxed[0]
    return np.stack([b[0] for b in boxed]), squares[scored], scale, offset


def detector_score(maps: np.ndarray, squares: np.ndarray, scale: float, offset: np.ndarray
                   ) -> dict:
    """Share of held-out frames whose best square has IoU >= 0.5 with the teacher's, and
    the mean IoU; ``maps`` (N, 12, 16, 4) are the detector's outputs."""
    from .detector import decode_squares
    ious = np.array([iou((decode_squares(m)[0][0] - np.tile(offset, 2)) / scale, sq)
                     for m, sq in zip(maps, squares, strict=True)])
    return {"heldout_iou50": float(np.mean(ious >= 0.5)), "heldout_mean_iou": float(ious.mean())}


def shipped_detector():  # noqa: ANN201 - PersonDetector
    """The shipped person detector, its C built for this machine (once)."""
    from ..classification.engine import host_project
    from .detector import PersonDetector
    return PersonDetector(host_project(PERSON_MODEL))


def clip_results(project, person: str) -> tuple[list, np.ndarray, np.ndarray]:  # noqa: ANN001
    """The demo pipeline's results on every frame of the held-out clip, and the teacher's
    keypoints and visibility there; ``person`` is a PersonFinder mode, or "teacher" for
    the squares of the teacher's own person boxes."""
    from ..display import NullDisplay
    from ..sources import FileSource
    from .person import GivenSquares, PersonFinder
    from .pipeline import PoseEstimator, run
    with np.load(HELDOUT_KEYPOINTS) as z:
        reference, visibility, squares = z["keypoints"], z["visibility"], z["box"]
    finder = (GivenSquares(squares) if person == "teacher" else
              PersonFinder(person, None if person == "full" else shipped_detector()))
    results = run(PoseEstimator(project), finder, FileSource(HELDOUT_CLIP, loop=False),
                  NullDisplay())
    return results, reference, visibility


def clip_pck(project, person: str = "detect") -> tuple[float, int]:  # noqa: ANN001 - Path
    """(PCK@0.2 of the demo pipeline on the held-out clip, frames scored)."""
    results, reference, visibility = clip_results(project, person)
    pred = np.stack([r.keypoints for r in results])
    scored = ~np.isnan(reference).any(axis=(1, 2))
    return pck(pred[scored], reference[scored], visibility[scored]), int(scored.sum())


VALIDATION_CLIPS = (("vtest.avi", 400), ("carphone_pristine.mp4", 120))   # (clip, frames)


def validation_pck(project, person: str = "detect", sources: Path = DEFAULT_SOURCES  # noqa: ANN001
                   ) -> dict[str, float]:
    """{clip: PCK@0.2} of the demo pipeline on the first frames of the validation clips
    (training clips: see the module doc), and the pooled figure under "all"."""
    from ..display import NullDisplay
    from ..sources import FileSource
    from .dataset import CROPS
    from .person import PersonFinder
    from .pipeline import PoseEstimator, run
    with np.load(CROPS) as z:
        crops = {k: z[k] for k in ("source", "frame", "box", "keypoints", "visibility")}
    scores, pooled = {}, np.zeros(2)
    for name, count in VALIDATION_CLIPS:
        if not (sources / name).exists():
            raise SystemExit(f"{sources / name} is missing; fetch the footage with "
                             f"python -m bnnkit.demos.pose.label --fetch")
        finder = PersonFinder(person, None if person == "full" else shipped_detector())
        results = run(PoseEstimator(project), finder, FileSource(sources / name, loop=False),
                      NullDisplay(), frames=count)
        hits = np.zeros(2)
        for r in results:
            mine = (crops["source"] == name) & (crops["frame"] == r.index)
            people = [pck_hits(r.keypoints[None], (kp * (b[2] - b[0]) / CROP + b[:2])[None],
                               v[None])
                      for kp, v, b in zip(crops["keypoints"][mine], crops["visibility"][mine],
                                          crops["box"][mine], strict=True)]
            if people:
                hits += max(people, key=lambda h: h[0] / max(h[1], 1))
        scores[name], pooled = hits[0] / hits[1], pooled + hits
    return {**scores, "all": pooled[0] / pooled[1]}


def evaluate(person: str = "detect") -> dict:
    from ..classification.engine import host_project
    train = json.loads(POSE_MODEL.with_suffix(".train.json").read_text())
    test = load("test").at_input_size()
    project = host_project(POSE_MODEL)
    clip, frames = clip_pck(project, person)
    clip_teacher, _ = clip_pck(project, "teacher")
    detector = shipped_detector()
    canvases, squares, scale, offset = heldout_canvases()
    maps = np.stack([detector.mirror_averaged_maps(c)[0] for c in canvases])
    result = {"test_crops": len(test), "test_sources": sorted(set(test.source.tolist())),
              "float": train["float_pytorch_test_pck"],
              "bnn_pytorch": pck(torch_keypoints(test.images), test.keypoints, test.visibility),
              "c": pck(c_keypoints(project, test.images), test.keypoints, test.visibility),
              "clip_c": clip, "clip_frames": frames, "clip_person": person,
              "clip_c_teacher_boxes": clip_teacher,
              "detector_c": detector_score(maps, squares, scale, offset),
              "project": str(project)}
    POSE_MODEL.with_suffix(".eval.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def table(r: dict) -> str:
    return "\n".join([
        "| PCK@0.2 vs teacher, held-out clips | float student | BNN, PyTorch | BNN, generated C |",
        "|---|---|---|---|",
        f"| {r['test_crops']} crops of {', '.join(r['test_sources'])} | {100 * r['float']:.1f}% "
        f"| {100 * r['bnn_pytorch']:.1f}% | {100 * r['c']:.1f}% |",
        f"| demo pipeline on the held-out clip ({r['clip_frames']} frames), squares from the "
        f"teacher's person boxes | | | {100 * r['clip_c_teacher_boxes']:.1f}% |",
        f"| the same, squares from the demo's `--person {r['clip_person']}` | | | "
        f"{100 * r['clip_c']:.1f}% |",
        "",
        f"Person detector alone (generated C) on those {r['clip_frames']} frames: its square "
        f"overlaps the teacher's with IoU >= 0.5 in "
        f"{100 * r['detector_c']['heldout_iou50']:.0f}% of them (mean IoU "
        f"{r['detector_c']['heldout_mean_iou']:.2f})."])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--person", choices=("detect", "track", "full"), default="detect",
                   help="person finder of the end-to-end clip run (default detect)")
    p.add_argument("--validation", action="store_true",
                   help="only the pipeline's PCK@0.2 on the validation frames of training "
                        "clips (what the person finder's rules are chosen by)")
    p.add_argument("--sources", type=Path, default=DEFAULT_SOURCES,
                   help="the footage, for --validation (label.py --fetch; default: %(default)s)")
    args = p.parse_args(argv)
    if args.validation:
        from ..classification.engine import host_project
        scores = validation_pck(host_project(POSE_MODEL), args.person, args.sources)
        print("\n".join(f"PCK@0.2 of the pipeline (--person {args.person}) on {name}: "
                        f"{100 * v:.1f}%" for name, v in scores.items()))
        return
    print(table(evaluate(args.person)))


if __name__ == "__main__":
    main()
