"""Training smoke test: a tiny BNN learns sklearn digits; export agrees with PyTorch."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

import bnnkit
from bnnkit import golden
from bnnkit.nn import BinaryConv2d, BinaryLinear


def digits_bnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32),
        BinaryConv2d(32, 64, 3, padding=1, pad_value=1.0), nn.BatchNorm2d(64),
        nn.MaxPool2d(2),
        BinaryConv2d(64, 64, 3, padding=1, pad_value=1.0), nn.BatchNorm2d(64),
        nn.Flatten(), BinaryLinear(64 * 4 * 4, 10), nn.BatchNorm1d(10))


def test_tiny_bnn_learns_digits_and_exports_faithfully(tmp_path) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    data = load_digits()
    x = torch.tensor(data.images[:, None] / 16.0 - 0.5, dtype=torch.float32)
    y = torch.tensor(data.target)
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]
    model = digits_bnn()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(300):
        idx = torch.randint(0, len(x_train), (64,), generator=g)
        loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        torch_pred = model(x_test).argmax(1).numpy()
    accuracy = float(np.mean(torch_pred == y_test.numpy()))
    assert accuracy > 0.8, f"only {accuracy:.1%} after 300 steps (chance is 10%)"

    path = bnnkit.save(model, tmp_path / "digits.pt", x_train[:1], calibration=x_train[:256],
                       labels=[str(i) for i in range(10)])
    graph = bnnkit.export(path)
    golden_pred = golden.run(graph, x_test.numpy()).argmax(1)
    agreement = float(np.mean(golden_pred == torch_pred))
    assert agreement >= 0.99, f"golden and PyTorch agree on top-1 for only {agreement:.1%}"
    assert graph.meta["labels"] == [str(i) for i in range(10)]
