"""Train the paper-digits demo model on OpenCV's digits.png.

BNN, then the float baseline: about 25 min on a busy 2-core machine.

    python -m bnnkit.demos.classification.train_digits

Data: 5000 digits of 20x20 (50 grid rows of 100; rows 5k..5k+4 are digit k).
Held out: the last grid row of every class (rows 4, 9, ..., 49), i.e. 1000
digits never seen in training (whole rows, so neighbouring near-duplicates
stay on one side); training uses the other 4000.

Network: nets.digits_net (INT8 stem 1->32, binary 3x3 convs 32-32-64-64-128
with +1 padding, BN, max-pools after the 1st and 3rd, global average pool,
INT8 linear head), 28x28 input (the 20x20 cell centred, like MNIST).
Training: augment.py (scale, rotation, shift, erode/dilate, blur,
contrast/brightness, noise, then auto-contrast or 15% Otsu-binarized);
Adam, one-cycle lr 3e-3, batch 64, 16 epochs, label smoothing 0.1, seed 0.
The float network of the same shape is trained with the same recipe as
the baseline (after the BNN, which ships first). Normalization: (p/255 - 0.1) / 0.25.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..training import Recipe, for_shipping, train
from .augment import augment, render_clean
from .datasets import CACHE, DIGITS_LABELS, load_digits_grid
from .nets import digits_net
from .train_common import accuracy, classification_loss, test_accuracy

HERE = Path(__file__).resolve().parent
MEAN, STD = 0.1, 0.25


def split() -> tuple[np.ndarray, ...]:
    cells, labels, rows = load_digits_grid()
    test = rows % 5 == 4
    return cells[~test], labels[~test], cells[test], labels[test]


def to_input(images: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(images.astype(np.float32))[:, None] / 255 - MEAN) / STD


def save_model(model: torch.nn.Module, args: argparse.Namespace, cells: np.ndarray,
               x_test: torch.Tensor) -> None:
    import bnnkit
    calib = to_input(augment(cells[np.random.default_rng(args.seed).permutation(
        len(cells))[:512]], args.seed + 1))
    bnnkit.save(model, args.out, example_input=x_test[:1], calibration=calib,
                normalize=([MEAN], [STD]), labels=DIGITS_LABELS)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workdir", type=Path, default=CACHE / "train" / "digits")
    p.add_argument("--out", type=Path, default=HERE / "models" / "digits.pt")
    p.add_argument("--ship", action="store_true",
                   help="only re-write the model file from the finished BNN checkpoint")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    cells, y, test_cells, y_test = split()
    x_cells = torch.from_numpy(cells)
    x_test = to_input(render_clean(test_cells))
    y, y_test = torch.from_numpy(y), torch.from_numpy(y_test)

    def aug(batch: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
        return to_input(augment(batch.numpy(), seed)), torch.zeros(len(batch), dtype=torch.bool)

    recipe = Recipe(epochs=args.epochs, batch=64, seed=args.seed)
    info_path = args.out.with_suffix(".train.json")
    if args.ship:
        model = digits_net(binary=True)
        model.load_state_dict(torch.load(args.workdir / "bnn.ckpt", weights_only=False)["model"])
        save_model(for_shipping(model), args, cells, x_test)
        print(f"wrote {args.out}: held-out accuracy {accuracy(model, x_test, y_test):.2%}")
        return
    results = {}
    for kind in ("bnn", "float"):
        torch.manual_seed(args.seed)
        model = digits_net(binary=kind == "bnn")
        state = train(model, recipe, args.workdir / f"{kind}.ckpt", len(x_cells),
                      classification_loss(recipe, x_cells, y, aug), test_accuracy(x_test, y_test),
                      save_every=50, desc=f"digits {kind}")
        results[kind] = accuracy(model, x_test, y_test)
        if kind == "bnn":
            save_model(for_shipping(model), args, cells, x_test)
            info = {"model": args.out.name,
                    "dataset": "OpenCV digits.png (Debian opencv-doc), 4000 train / 1000 held "
                               "out (last grid row of each class)",
                    "train_images": len(cells), "test_images": len(test_cells),
                    "float_teacher_test_acc": None, "bnn_pytorch_test_acc": results["bnn"],
                    "recipe": asdict(recipe), "history": state["history"],
                    "command": ("python -m bnnkit.demos.classification.train_digits "
                                + " ".join(sys.argv[1:] if argv is None else argv)).strip()}
        else:
            info["float_teacher_test_acc"] = results["float"]
        info_path.write_text(json.dumps(info, indent=1) + "\n")
        print(f"wrote {info_path}: {kind} held-out accuracy {results[kind]:.2%}", flush=True)


if __name__ == "__main__":
    main()
