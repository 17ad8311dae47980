"""Train the Fashion-MNIST demo model: a float teacher, then a BNN distilled from it.

    python -m bnnkit.demos.classification.train_fashion            # teacher, then BNN, then ship
    python -m bnnkit.demos.classification.train_fashion --ship     # ship the BNN checkpoint as is

Resumable: run the same command again after an interruption. Checkpoints
live in ``--workdir`` (default ``~/.cache/bnnkit/train/fashion``).

Recipe (the defaults; all seeded with --seed 0):
  data       Fashion-MNIST 60k train / 10k test (Debian dataset-fashion-mnist),
             pixels normalized (p/255 - 0.2860) / 0.3530; augmentation:
             random horizontal flip.
  network    nets.fashion_net: float 3x3 stem 1->64 + BN (INT8 in C), binary
             3x3 convs with +1 padding 64-64-128-128-256-256 + BN, max-pools
             after the 1st and 3rd, global average pool, linear head (INT8).
             --net fashion_bireal: nets.fashion_bireal_net, the same layers
             with a Bi-Real shortcut (INT8 in C) around every binary conv and
             a learnt shift before every sign; with --init it starts as a
             copy of a trained plain BNN (nets.init_from_plain), e.g. the
             shipped models/fashion.pt (--init fashion; two-stage training).
             It ships as nets.TwoStems (the same function, exact in C).
  teacher    same shape, float convs + ReLU; Adam, one-cycle lr 3e-3,
             weight decay 5e-5, label smoothing 0.1, batch 128, 2 epochs.
  BNN        Adam, one-cycle lr 3e-3, no weight decay, batch 128, 8 epochs;
             loss = CE(label smoothing 0.1), or with --kd-alpha A > 0
             (1 - A) * CE + A * KL(teacher || BNN) at temperature 2 (teacher
             logits precomputed for both flips). The INT8 stem and head are
             trained with fake-quantized weights (bnnkit.nn.fake_int8_weights),
             so the exported C computes what PyTorch does.
  ship       models/fashion.pt (bnnkit.save with normalize and 512
             calibration images) and models/fashion.train.json (recipe,
             per-epoch history, float and BNN test accuracy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ...nn import baked, fake_int8_weights
from ..training import Recipe, atomic_torch_save, cool_down, for_shipping, predict, train
from .datasets import CACHE, FASHION_LABELS, FASHION_MEAN, FASHION_STD, load_fashion
from .nets import TwoStems, fashion_bireal_net, fashion_net, init_from_plain
from .train_common import accuracy, classification_loss, test_accuracy

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"


def tensors(split: str, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_fashion(split)
    if limit:
        images, labels = images[:limit], labels[:limit]
    x = (torch.from_numpy(images.astype(np.float32))[:, None] / 255 - FASHION_MEAN) / FASHION_STD
    return x, torch.from_numpy(labels)


def random_flip(xb: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    flip = torch.rand(len(xb), generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], xb.flip(3), xb), flip


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", type=Path, default=CACHE / "train" / "fashion")
    p.add_argument("--teacher-epochs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=8, help="BNN epochs")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--kd-alpha", type=float, default=0.0,
                   help="weight of distillation from the float teacher (0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, help="use only the first N training images (smoke test)")
    p.add_argument("--stage", choices=("all", "teacher", "bnn"), default="all",
                   help="teacher: train the float teacher only; bnn: the BNN only (needs a "
                        "trained teacher unless --kd-alpha 0); all: both, then ship")
    p.add_argument("--ship", action="store_true", help="only write models/ from the checkpoint")
    p.add_argument("--teacher-workdir", type=Path,
                   help="where the finished float network's checkpoint is (default "
                        "--workdir), for the float accuracy in the card")
    p.add_argument("--cooldown", type=int, metavar="STEPS",
                   help="out of time: stop the schedule where the BNN checkpoint is, train "
                        "STEPS more with the learning rate falling to 0, and ship")
    p.add_argument("--net", choices=("fashion", "fashion_bireal"), default="fashion",
                   help="the BNN: plain (nets.fashion_net) or with Bi-Real shortcuts")
    p.add_argument("--init", type=Path, metavar="MODEL",
                   help="start the BNN from this trained plain BNN: a shipped model's name "
                        "(fashion) or a model file")
    p.add_argument("--out", type=Path, help="default models/NET.pt")
    args = p.parse_args(argv)
    args.out = args.out or MODELS / f"{args.net}.pt"
    if args.init and not args.init.suffix:
        args.init = MODELS / f"{args.init}.pt"
    return args


def teacher_stage(args: argparse.Namespace, x, y, xt, yt) -> tuple[torch.nn.Module, float]:
    torch.manual_seed(args.seed)
    teacher = fashion_net(binary=False)
    recipe = Recipe(epochs=args.teacher_epochs, lr=3e-3, weight_decay=5e-5, seed=args.seed)
    state = train(teacher, recipe, args.workdir / "teacher.ckpt", len(x),
                  classification_loss(recipe, x, y, random_flip), test_accuracy(xt, yt),
                  desc="teacher")
    return teacher, state["history"][-1]["test_acc"]


def teacher_logits(args: argparse.Namespace, teacher: torch.nn.Module,
                   x: torch.Tensor) -> torch.Tensor:
    path = args.workdir / "teacher_logits.pt"
    if path.exists():
        return torch.load(path)
    t0 = time.time()
    logits = torch.stack([predict(teacher, x), predict(teacher, x.flip(3))], 1)
    atomic_torch_save(logits, path)
    print(f"teacher logits for {len(x)} x 2 flips in {time.time() - t0:.0f} s", flush=True)
    return logits


def bnn_recipe(args: argparse.Namespace) -> Recipe:
    extra = {"int8_aware": True}
    if args.net != "fashion":
        extra["net"] = args.net
    if args.init:
        extra["init"] = args.init.name
    return Recipe(epochs=args.epochs, lr=args.lr, kd_alpha=args.kd_alpha, seed=args.seed,
                  extra=extra)


def student(args: argparse.Namespace) -> torch.nn.Module:
    if args.net == "fashion":
        if args.init:
            raise SystemExit("--init starts a --net fashion_bireal from a plain BNN")
        return fake_int8_weights(fashion_net(binary=True))
    model = fashion_bireal_net()
    if args.init:
        from ...export.modelfile import load
        plain = fashion_net(binary=True)
        plain.load_state_dict(load(args.init).program.state_dict)
        init_from_plain(model, plain)
    return fake_int8_weights(model)


def ship(args: argparse.Namespace, model: torch.nn.Module, history: list, recipe: Recipe,
         float_acc: float | None, bnn_acc: float, x: torch.Tensor) -> None:
    g = torch.Generator().manual_seed(args.seed)
    calib = x[torch.randperm(len(x), generator=g)[:512]]
    import bnnkit
    if args.net == "fashion_bireal":
        model = TwoStems(for_shipping(baked(model)))
    else:
        model = for_shipping(model)
    bnnkit.save(model, args.out, example_input=x[:1], calibration=calib,
                normalize=([FASHION_MEAN], [FASHION_STD]), labels=FASHION_LABELS)
    info = {"model": args.out.name, "dataset": "Fashion-MNIST (Debian dataset-fashion-mnist)",
            "train_images": len(x), "test_images": 10000,
            "float_teacher_test_acc": float_acc, "bnn_pytorch_test_acc": bnn_acc,
            "recipe": asdict(recipe), "teacher_epochs": args.teacher_epochs,
            "history": history,
            "command": "python -m bnnkit.demos.classification.train_fashion "
                       + " ".join(a for a in args.argv if a != "--ship")}
    if float_acc is not None:
        info["float_network"] = (f"same shape, float convs + ReLU, {args.teacher_epochs} "
                                 "epoch(s)")
        info["float_command"] = ("python -m bnnkit.demos.classification.train_fashion --stage "
                                 f"teacher --teacher-epochs {args.teacher_epochs} --workdir "
                                 f"{args.teacher_workdir or args.workdir}")
    args.out.with_suffix(".train.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.train.json')}: BNN test accuracy "
          f"{bnn_acc:.2%} (float teacher {float_acc})", flush=True)


def finished_teacher_acc(args: argparse.Namespace) -> float | None:
    """Test accuracy of the finished float network in --teacher-workdir (or --workdir)."""
    path = (args.teacher_workdir or args.workdir) / "teacher.ckpt"
    if not path.exists():
        return None
    saved = torch.load(path, weights_only=False)
    if saved["epoch"] != saved["recipe"]["epochs"]:
        return None                       # still training
    args.teacher_epochs = saved["recipe"]["epochs"]
    return saved["history"][-1]["test_acc"]


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    x, y = tensors("train", args.limit)
    xt, yt = tensors("test")
    recipe = bnn_recipe(args)
    model = student(args)
    if args.cooldown:
        state = cool_down(model, recipe, args.workdir / "bnn.ckpt", args.cooldown, len(x),
                          classification_loss(recipe, x, y, random_flip), test_accuracy(xt, yt))
        ship(args, model, state["history"], recipe, finished_teacher_acc(args),
             accuracy(model, xt, yt), x)
        return
    if args.ship:
        saved = torch.load(args.workdir / "bnn.ckpt", weights_only=False)
        model.load_state_dict(saved["model"])
        model.eval()
        float_acc = finished_teacher_acc(args)
        ship(args, model, saved["history"], recipe, float_acc, accuracy(model, xt, yt), x)
        return
    float_acc, logits = None, None
    if args.stage in ("all", "teacher") or args.kd_alpha > 0:
        teacher, float_acc = teacher_stage(args, x, y, xt, yt)
        print(f"float teacher test accuracy {float_acc:.2%}", flush=True)
        if args.stage == "teacher":
            return
        logits = teacher_logits(args, teacher, x) if args.kd_alpha > 0 else None
        del teacher
    else:
        float_acc = finished_teacher_acc(args)
    torch.manual_seed(args.seed)
    model = student(args)
    teacher = (lambda idx, flip: logits[idx, flip.long()]) if logits is not None else None
    state = train(model, recipe, args.workdir / "bnn.ckpt", len(x),
                  classification_loss(recipe, x, y, random_flip, teacher),
                  test_accuracy(xt, yt), desc="bnn")
    ship(args, model, state["history"], recipe, float_acc, accuracy(model, xt, yt), x)


if __name__ == "__main__":
    main()
