"""Train the pose demo model: a float student, then the BNN, on teacher-labelled crops.

    python -m bnnkit.demos.pose.train              # float student, BNN, then ship
    python -m bnnkit.demos.pose.train --ship       # ship the finished BNN checkpoint

Resumable: run the same command again after an interruption (checkpoints in
``--workdir``, default ``~/.cache/bnnkit/train/pose``).

Data: data/pose_crops.npz (label.py): BlazePose (mediapipe) keypoints on
person crops from real footage; the clips of the ``test`` split are never
trained on. The labels come from a teacher model, not from people: this is
distillation, and accuracy is measured against the teacher.

Recipe (the defaults; seeded with --seed 0):
  input      64x64 grey crop, (p/255 - 115/255) / 0.25; augment.py (scale,
             rotation, shift, flip with left/right swap, brightness,
             contrast, blur, noise), a fresh draw every step
  target     per keypoint, a Gaussian (sigma 1 cell) on the 16x16 grid,
             normalized; loss = cross-entropy of the map's spatial softmax
             against it, over the keypoints the teacher sees (visibility
             >= 0.5) inside the input
  network    nets.pose_net: the BNN, and the float student of the same shape
             (ReLU for sign); INT8 stem and head trained with fake-quantized
             weights (bnnkit.nn.fake_int8_weights)
  BNN        distilled from the trained float student too: half of each
             keypoint's target is the float network's heatmap (--kd-alpha 0.5)
  optimizer  Adam, one-cycle lr 3e-3, batch 32, 100 epochs (both networks)
  ship       models/pose.pt (bnnkit.save with 256 calibration crops) and
             models/pose.train.json (recipe, history, PCK@0.2 of both
             networks on the held-out clips)
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...nn import fake_int8_weights
from ..classification.datasets import CACHE
from ..training import Recipe, for_shipping, predict, train
from .augment import augment
from .dataset import CROPS, PoseSet, load
from .decode import decode
from .keypoints import COCO_KEYPOINTS
from .metrics import VISIBLE, pck
from .nets import HEATMAP, INPUT, STRIDE, pose_net

HERE = Path(__file__).resolve().parent
# 115/255: a whole number of pixel levels, so the generated C's uint8 -> int8 input
# table is exact (a mean of 0.45 = 114.75 levels rounds every pixel by a quarter
# level, which moved PCK by 1.6 points between PyTorch and C).
MEAN, STD = 115 / 255, 0.25
SIGMA = 1.0                      # target Gaussian, in heatmap cells


def to_input(images: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(images.astype(np.float32))[:, None] / 255 - MEAN) / STD


def heatmap_targets(keypoints: np.ndarray, visibility: np.ndarray
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 17, 16*16) target distributions and the (N, 17) mask of keypoints that count."""
    cells = (np.arange(HEATMAP) + 0.5) * STRIDE
    gx = np.exp(-((cells[None, None, :] - keypoints[..., :1]) / STRIDE) ** 2 / (2 * SIGMA ** 2))
    gy = np.exp(-((cells[None, None, :] - keypoints[..., 1:]) / STRIDE) ** 2 / (2 * SIGMA ** 2))
    maps = gy[..., :, None] * gx[..., None, :]
    maps = maps.reshape(*keypoints.shape[:2], -1)
    maps /= np.maximum(maps.sum(-1, keepdims=True), 1e-12)
    return torch.from_numpy(maps.astype(np.float32)), torch.from_numpy(visibility >= VISIBLE)


def heatmap_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(logits.flatten(2), -1)
    per_point = -(target * logp).sum(-1)
    return (per_point * mask).sum() / mask.sum().clamp(min=1)


def batch_loss(data: PoseSet, teacher: nn.Module | None = None,
               kd_alpha: float = 0.0):  # noqa: ANN201 - training.BatchLoss
    """Heatmap loss on augmented crops; with a ``teacher`` (the trained float student),
    ``kd_alpha`` of the target is the teacher's own heatmap distribution."""
    def loss(model: nn.Module, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        i = idx.numpy()
        images, kps, vis = augment(data.images[i], data.keypoints[i], data.visibility[i], rng)
        target, mask = heatmap_targets(kps, vis)
        x = to_input(images)
        if teacher is not None and kd_alpha > 0:
            with torch.no_grad():
                soft = torch.softmax(teacher(x).flatten(2), -1)
            target = (1 - kd_alpha) * target + kd_alpha * soft
        return heatmap_loss(model(x), target, mask)
    return loss


def predict_keypoints(logits: np.ndarray) -> np.ndarray:
    """(N, 17, H, W) heatmap logits -> (N, 17, 2) keypoints in input pixels."""
    return np.stack([decode(m, STRIDE)[0] for m in logits])


def test_pck(test: PoseSet):  # noqa: ANN201 - training.Evaluate
    x = to_input(test.images)
    return lambda model: {"test_pck": pck(predict_keypoints(predict(model, x).numpy()),
                                          test.keypoints, test.visibility)}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--kd-alpha", type=float, default=0.5,
                   help="share of the BNN's target taken from the float student (0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workdir", type=Path, default=CACHE / "train" / "pose")
    p.add_argument("--data", type=Path, default=CROPS, help="the labelled crops (label.py)")
    p.add_argument("--out", type=Path, default=HERE / "models" / "pose.pt")
    p.add_argument("--ship", action="store_true",
                   help="only re-write the model file from the finished checkpoints")
    return p.parse_args(argv)


def ship(model: nn.Module, args: argparse.Namespace, data: PoseSet, info: dict) -> None:
    import bnnkit
    rng = np.random.default_rng(args.seed)
    pick = rng.permutation(len(data))[:256]
    images, _, _ = augment(data.images[pick], data.keypoints[pick], data.visibility[pick], rng)
    bnnkit.save(for_shipping(model), args.out, example_input=to_input(images[:1]),
                calibration=to_input(images), normalize=([MEAN], [STD]),
                labels=list(COCO_KEYPOINTS))
    args.out.with_suffix(".train.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.train.json')}", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = load("train", args.data)
    test = load("test", args.data).at_input_size()
    recipe = Recipe(epochs=args.epochs, batch=32, seed=args.seed,
                    extra={"input": INPUT, "sigma_cells": SIGMA, "int8_aware": True,
                           "mean": MEAN, "std": STD})
    bnn_recipe = Recipe(**{**asdict(recipe), "kd_alpha": args.kd_alpha})
    info = {"model": args.out.name, "train_crops": len(data), "test_crops": len(test),
            "train_sources": sorted(set(data.source.tolist())),
            "test_sources": sorted(set(test.source.tolist())),
            "metric": "PCK@0.2 of the teacher-keypoint box, against the teacher",
            "recipe": asdict(recipe), "bnn_kd_alpha": args.kd_alpha,
            "command": ("python -m bnnkit.demos.pose.train "
                        + " ".join(a for a in (sys.argv[1:] if argv is None else argv)
                                   if a != "--ship")).strip()}
    models = {}
    for kind in ("float", "bnn"):
        torch.manual_seed(args.seed)
        model = fake_int8_weights(pose_net(binary=kind == "bnn"))
        ckpt = args.workdir / f"{kind}.ckpt"
        teacher = models.get("float")
        if args.ship:
            saved = torch.load(ckpt, weights_only=False)
            model.load_state_dict(saved["model"])
            history = saved["history"]
        else:
            history = train(model, bnn_recipe if kind == "bnn" else recipe, ckpt, len(data),
                            batch_loss(data, teacher, args.kd_alpha), test_pck(test),
                            save_every=50, desc=f"pose {kind}")["history"]
        models[kind] = model.eval()
        info[f"{kind}_history"] = history
        info[f"{kind}_pytorch_test_pck"] = history[-1]["test_pck"]   # of the final weights
        print(f"{kind}: PCK@0.2 {info[f'{kind}_pytorch_test_pck']:.2%} on the held-out clips",
              flush=True)
    ship(models["bnn"], args, data, info)


if __name__ == "__main__":
    main()
