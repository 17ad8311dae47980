"""Train the person detector: where the person is in a frame, distilled from the pose set's boxes.

    python -m bnnkit.demos.pose.train_detector              # train (resumable), then ship
    python -m bnnkit.demos.pose.train_detector --ship       # ship the finished checkpoint

Data: the frames of the training clips and stills (never bikes.mp4, the
held-out clip) in which data/pose_crops.npz has person crops, read again from
the footage that ``python -m bnnkit.demos.pose.label --fetch`` put in
--sources; the targets are those crops' squares (OpenCV HOG with non-max
suppression on vtest.avi and the basketball stills, the BlazePose teacher's
keypoint boxes on the one-person clips, each kept only where the teacher saw a
plausible pose). They are what the pose network was trained on, so the
detector learns to frame people as the pose network expects.

Recipe (the defaults; seeded with --seed 0):
  sample     a random frame and a window of it (aspect 0.9 to 2.5): 70%
             around one of its people (0.7 to 2.5 x their square's side, so
             people fill the view as in front of a camera; the footage's
             people are mostly small), 30% anywhere (0.3 to 1 x the frame's
             height); flipped half the time, brightness, contrast, noise and
             blur jitter, letterboxed into the 64x48 canvas as the demo does
  target     CenterNet: a Gaussian (sigma max(0.7, side / 6) cells) around
             each square's centre cell, penalty-reduced focal loss; L1 on the
             centre offset and log side at the centre cells
  network    detector_net (binary body, INT8-aware stem and head)
  optimizer  Adam, one-cycle lr 3e-3, batch 32, --epochs of 1024 samples
  score      on every frame of data/heldout_clip.mp4 where the teacher found
             the cyclist: the share of frames whose best square overlaps the
             teacher's square with IoU >= 0.5 (reported, never trained on)
  ship       models/person.pt and models/person.train.json
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch

from ...nn import fake_int8_weights
from ..classification.datasets import CACHE
from ..training import Recipe, cool_down, for_shipping, predict, train
from .dataset import CROPS
from .detector import CANVAS_H, CANVAS_W, OFFSET_GAIN, SIZE_GAIN, STRIDE, letterbox
from .detector_net import detector_net
from .evaluate import detector_score, heldout_canvases
from .label import DEFAULT_SOURCES, iter_frames
from .presets import PERSON_MODEL
from .train import MEAN, STD, to_input

GRID_H, GRID_W = CANVAS_H // STRIDE, CANVAS_W // STRIDE
SAMPLES_PER_EPOCH = 1024
PERSON_WINDOWS = 0.7     # share of samples framed around one person (the rest: anywhere)


def training_frames(sources: Path, crops: Path = CROPS
                    ) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(grey frame, person squares (n, 4), source) for every training frame with a crop."""
    with np.load(crops) as z:
        keep = z["split"] == "train"
        source, frame, box = z["source"][keep], z["frame"][keep], z["box"][keep]
    out = []
    for name in sorted(set(source.tolist())):
        path = sources / name
        if not path.exists():
            raise SystemExit(f"{path} is missing; fetch the footage with "
                             f"python -m bnnkit.demos.pose.label --fetch")
        wanted = set(frame[source == name].tolist())
        for index, image in iter_frames(path, 1):
            if index in wanted:
                squares = box[(source == name) & (frame == index)]
                out.append((cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), squares, name))
    return out


def sample(grey: np.ndarray, squares: np.ndarray, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """A random window of a frame letterboxed into the canvas, and its squares there."""
    h, w = grey.shape
    if len(squares) and rng.random() < PERSON_WINDOWS:
        # around one person, from their square's side x 0.7 (the square leaves the view,
        # as a cyclist filling the frame does) to x 2.5
        x0, y0, x1, y1 = squares[rng.integers(len(squares))]
        wh = min(h, (x1 - x0) * np.exp(rng.uniform(np.log(0.7), np.log(2.5))))
        ww = min(w, wh * rng.uniform(0.9, 2.5))
        cx = (x0 + x1) / 2 + rng.uniform(-0.3, 0.3) * ww
        cy = (y0 + y1) / 2 + rng.uniform(-0.2, 0.2) * wh
        x0, y0 = np.clip(cx - ww / 2, 0, w - ww), np.clip(cy - wh / 2, 0, h - wh)
    else:
        wh = min(h, h * np.exp(rng.uniform(np.log(0.3), 0)))
        ww = min(w, wh * rng.uniform(0.9, 2.5))
        x0, y0 = rng.uniform(0, w - ww), rng.uniform(0, h - wh)
    xa, ya = int(x0), int(y0)
    window = grey[ya:int(np.ceil(y0 + wh)), xa:int(np.ceil(x0 + ww))].astype(np.float32)
    sq = squares - np.float32([xa, ya, xa, ya])
    centre = (sq[:, :2] + sq[:, 2:]) / 2
    inside = ((centre >= 0) & (centre < [window.shape[1], window.shape[0]])).all(1)
    sq = sq[inside]
    if rng.random() < 0.5:
        window = window[:, ::-1]
        sq = np.stack([window.shape[1] - sq[:, 2], sq[:, 1], window.shape[1] - sq[:, 0],
                       sq[:, 3]], axis=1)
    window = window * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40)
    window = 255 * (np.clip(window, 0, 255) / 255) ** np.exp(rng.uniform(-0.4, 0.4))
    if rng.random() < 0.3:
        window = cv2.GaussianBlur(window, (0, 0), rng.uniform(0.5, 1.5))
    window = window + rng.normal(0, rng.uniform(0, 8), window.shape)
    canvas, scale, offset = letterbox(np.clip(window, 0, 255).astype(np.uint8))
    return canvas, sq * scale + np.tile(offset, 2)


def targets(squares: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(heatmap (12, 16), regression (3, 12, 16), mask (12, 16)) for squares in canvas pixels."""
    heat = np.zeros((GRID_H, GRID_W), np.float32)
    reg = np.zeros((3, GRID_H, GRID_W), np.float32)
    mask = np.zeros((GRID_H, GRID_W), np.float32)
    gy, gx = np.mgrid[:GRID_H, :GRID_W]
    for x0, y0, x1, y1 in squares:
        cx, cy, side = (x0 + x1) / 2 / STRIDE, (y0 + y1) / 2 / STRIDE, (x1 - x0)
        j, i = min(int(cx), GRID_W - 1), min(int(cy), GRID_H - 1)
        sigma = max(0.7, side / STRIDE / 6)
        heat = np.maximum(heat, np.exp(-((gx - j) ** 2 + (gy - i) ** 2) / (2 * sigma ** 2)))
        reg[:, i, j] = (OFFSET_GAIN * (cx - j), OFFSET_GAIN * (cy - i),
                        SIZE_GAIN * np.log(side / CANVAS_H))
        mask[i, j] = 1
    return heat, reg, mask


def detector_loss(out: torch.Tensor, heat: torch.Tensor, reg: torch.Tensor,
                  mask: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss plus L1 at the centre cells, per person."""
    logit = out[:, 0]
    p = torch.sigmoid(logit).clamp(1e-4, 1 - 1e-4)
    pos = mask > 0
    focal = torch.where(pos, -torch.log(p) * (1 - p) ** 2,
                        -torch.log(1 - p) * p ** 2 * (1 - heat) ** 4)
    l1 = ((out[:, 1:] - reg).abs().sum(1) * mask).sum()
    return (focal.sum() + l1) / mask.sum().clamp(min=1)


def batch_loss(frames: list):  # noqa: ANN001, ANN201 - training.BatchLoss
    def loss(model: torch.nn.Module, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        canvases, heats, regs, masks = [], [], [], []
        for i in idx.numpy():
            grey, squares, _ = frames[i % len(frames)]
            canvas, sq = sample(grey, squares, rng)
            heat, reg, mask = targets(sq)
            canvases.append(canvas)
            heats.append(heat)
            regs.append(reg)
            masks.append(mask)
        return detector_loss(model(to_input(np.stack(canvases))),
                             *(torch.from_numpy(np.stack(a)) for a in (heats, regs, masks)))
    return loss


def evaluate_fn():  # noqa: ANN201 - training.Evaluate
    canvases, squares, scale, offset = heldout_canvases()
    x = to_input(canvases)
    return lambda model: detector_score(predict(model, x).numpy().transpose(0, 2, 3, 1),
                                       squares, scale, offset)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sources", type=Path, default=DEFAULT_SOURCES,
                   help="the footage (label.py --fetch; default: %(default)s)")
    p.add_argument("--workdir", type=Path, default=CACHE / "train" / "person")
    p.add_argument("--out", type=Path, default=PERSON_MODEL)
    p.add_argument("--ship", action="store_true",
                   help="only re-write the model file from the finished checkpoint")
    p.add_argument("--cooldown", type=int, metavar="STEPS",
                   help="out of time: stop the schedule where the checkpoint is, train "
                        "STEPS more with the learning rate falling to 0, and ship")
    return p.parse_args(argv)


def ship(model: torch.nn.Module, frames: list, args: argparse.Namespace, info: dict) -> None:
    import bnnkit
    rng = np.random.default_rng(args.seed)
    canvases = np.stack([sample(*frames[i][:2], rng)[0]
                         for i in rng.integers(0, len(frames), 256)])
    bnnkit.save(for_shipping(model), args.out, example_input=to_input(canvases[:1]),
                calibration=to_input(canvases), normalize=([MEAN], [STD]),
                labels=["person", "offset_x", "offset_y", "log_side"])
    args.out.with_suffix(".train.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.train.json')}", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    args.workdir.mkdir(parents=True, exist_ok=True)
    frames = training_frames(args.sources)
    recipe = Recipe(epochs=args.epochs, batch=32, seed=args.seed,
                    extra={"canvas": [CANVAS_W, CANVAS_H], "int8_aware": True,
                           "mean": MEAN, "std": STD})
    torch.manual_seed(args.seed)
    model = fake_int8_weights(detector_net())
    ckpt = args.workdir / "detector.ckpt"
    if args.cooldown:
        history = cool_down(model, recipe, ckpt, args.cooldown, SAMPLES_PER_EPOCH,
                            batch_loss(frames), evaluate_fn())["history"]
    elif args.ship:
        saved = torch.load(ckpt, weights_only=False)
        model.load_state_dict(saved["model"])
        history = saved["history"]
    else:
        history = train(model, recipe, ckpt, SAMPLES_PER_EPOCH, batch_loss(frames),
                        evaluate_fn(), save_every=20, desc="person detector")["history"]
    model.eval()
    info = {"model": args.out.name, "train_frames": len(frames),
            "train_people": int(sum(len(f[1]) for f in frames)),
            "train_sources": sorted({f[2] for f in frames}),
            "heldout": "data/heldout_clip.mp4 (bikes.mp4), frames where the teacher found "
                       "the person",
            "recipe": asdict(recipe), "history": history,
            "command": ("python -m bnnkit.demos.pose.train_detector "
                        + " ".join(a for a in (sys.argv[1:] if argv is None else argv)
                                   if a != "--ship")).strip()}
    ship(model, frames, args, info)


if __name__ == "__main__":
    main()
