"""Re-create examples/digits_bnn.pt: a small BNN trained on sklearn's digits.

    python examples/make_digits_example.py        # about 30 s on 2 cores

Binary body (two 3x3 binary convs with +1 padding, max-pool on bits, binary
linear head), INT8 stem. Seeded, so the file comes out the same each time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from tqdm import trange

import bnnkit
from bnnkit.nn import BinaryConv2d, BinaryLinear

HERE = Path(__file__).resolve().parent
STEPS = 600


def digits_bnn() -> nn.Sequential:
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


def train(steps: int = STEPS, seed: int = 0) -> tuple[nn.Module, float]:
    """Train the example BNN; returns it (in eval mode) and its test accuracy."""
    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = digits_split()
    model = digits_bnn()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in trange(steps, desc="training", disable=steps < STEPS):
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
    model, accuracy = train()
    x_train, _, x_test, y_test = digits_split()
    print(f"PyTorch BNN test accuracy: {accuracy:.1%} on {len(x_test)} held-out digits")
    bnnkit.save(model, HERE / "digits_bnn.pt", x_train[:1], calibration=x_train[:256],
                labels=[str(i) for i in range(10)])
    np.savez_compressed(HERE / "digits_test.npz", images=x_test.numpy(),
                        labels=y_test.numpy())
    print(f"wrote {HERE / 'digits_bnn.pt'} and {HERE / 'digits_test.npz'}")


if __name__ == "__main__":
    main()
