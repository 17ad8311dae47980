"""Quickstart: train a small BNN on sklearn's digits, then export, build and test it.

    .venv/bin/python examples/quickstart.py           # about a minute on 2 cores

Writes out/quickstart/: the model file (digits_bnn.pt), the held-out digits
(digits_test.npz) and the generated C project, then prints the accuracy of
the PyTorch model, the golden model and the generated C on the held-out
digits. `bnn-export out/quickstart/digits_bnn.pt --test
out/quickstart/digits_test.npz` prints the same from the command line.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

import bnnkit
from bnnkit.nn import BinaryConv2d, BinaryLinear, fake_int8

STEPS = 600


def digits_bnn() -> nn.Sequential:
    """INT8 stem, two 3x3 binary convs with +1 padding, max-pool on bits, binary head."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32),
        BinaryConv2d(32, 64, 3, padding=1, pad_value=1.0), nn.BatchNorm2d(64),
        nn.MaxPool2d(2),
        BinaryConv2d(64, 64, 3, padding=1, pad_value=1.0), nn.BatchNorm2d(64),
        nn.Flatten(), BinaryLinear(64 * 4 * 4, 10), nn.BatchNorm1d(10))


def digits_split() -> tuple[torch.Tensor, ...]:
    """sklearn digits scaled to [-0.5, 0.5]: 1400 to train, 397 held out."""
    data = load_digits()
    x = torch.tensor(data.images[:, None] / 16.0 - 0.5, dtype=torch.float32)
    y = torch.tensor(data.target)
    return x[:1400], y[:1400], x[1400:], y[1400:]


def train(steps: int = STEPS, seed: int = 0, make_model: Callable[[], nn.Module] = digits_bnn,
          lr: float = 3e-3, fake_int8_from: int | None = None) -> tuple[nn.Module, float]:
    """Train the BNN ``make_model`` builds (seeded: Adam, one-cycle up to ``lr``); returns
    it in eval mode and its held-out accuracy. From step ``fake_int8_from`` on, it trains
    on the int8 grids its export will store the activations on (``bnnkit.nn.fake_int8``,
    calibrated then on the first 256 training digits, as the model is exported)."""
    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = digits_split()
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(steps):
        if step == fake_int8_from:
            fake_int8(model, x_train[:256])
        idx = torch.randint(0, len(x_train), (64,), generator=g)
        loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    return model, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/quickstart"),
                        help="where the model, test set and C project go")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps")
    args = parser.parse_args()
    x_train, _, x_test, y_test = digits_split()

    # 1. Before training: does every layer export? (raises, naming any that does not)
    bnnkit.check(digits_bnn(), x_train[:1])

    # 2. Train as usual.
    start = time.perf_counter()
    model, _ = train(args.steps)
    print(f"trained {args.steps} steps in {time.perf_counter() - start:.0f} s")

    # 3. Save: the torch.export program, weights, a calibration sample, labels.
    args.out.mkdir(parents=True, exist_ok=True)
    path = bnnkit.save(model, args.out / "digits_bnn.pt", x_train[:1],
                       calibration=x_train[:256], labels=[str(i) for i in range(10)])
    np.savez_compressed(args.out / "digits_test.npz", images=x_test.numpy(),
                        labels=y_test.numpy())

    # 4. Export to the integer IR, write the C project, run it here through cffi,
    #    beside the golden model and the PyTorch program stored in the model file.
    from bnnkit.codegen import write_project
    from bnnkit.export.compare import torch_outputs
    from bnnkit.export.loader import load_model
    from bnnkit.runtime import CModel
    from bnnkit.runtime.accuracy import AGREEMENT_WARNING, check_accuracy

    graph = bnnkit.export(path)
    project = args.out / "digits_bnn"
    print("\n".join(write_project(graph, project, name="digits_bnn").lines()))
    report = check_accuracy(CModel(project), x_test.numpy(), y_test.numpy())
    stored = torch_outputs(load_model(path).program, x_test.numpy())
    agreement = report.against(stored, y_test.numpy())
    print("\n".join(report.lines(args.out / "digits_test.npz", agreement)))
    if agreement.top1 < AGREEMENT_WARNING:
        print(f"note: C and PyTorch agree on top-1 for only {agreement.top1:.1%}; "
              f"bnn-export {path} --compare {args.out / 'digits_test.npz'} shows which "
              f"layer loses it")
    print(f"next: bnn-export {path} --target armv8 -o out/pi   # for a 64-bit Raspberry Pi")


if __name__ == "__main__":
    main()
