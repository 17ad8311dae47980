"""Training smoke test of grouped and dilated binary convs and a ceil_mode pool: a
reduced-width model learns sklearn digits, its C equals the golden model bit for bit
and golden and PyTorch agree on top-1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

import bnnkit
from bnnkit import golden
from bnnkit.codegen import write_project
from bnnkit.nn import BinaryConv2d, BinaryLinear
from bnnkit.runtime import CModel

from .test_training import _example


def test_grouped_and_dilated_layers_learn_digits_and_export_exactly(tmp_path: Path) -> None:
    x_train, y_train, x_test, y_test = _example().digits_split()
    torch.manual_seed(0)
    # The first conv's sign binarizes the digits: no INT8 rounding before a sign, so
    # golden and PyTorch differ only at float ties (an INT8 stem's rounding flips
    # about 3% of this briefly trained model's predictions). A 1-bit 8x8 digit keeps
    # less than the grey levels: 76% after 300 steps, chance is 10%.
    model = nn.Sequential(
        BinaryConv2d(1, 48, 3, padding=2, dilation=2), nn.BatchNorm2d(48),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),  # 8x8 -> 4x4, the last window overhangs
        BinaryConv2d(48, 48, 3, padding=1, pad_value=1.0, groups=3), nn.BatchNorm2d(48),
        nn.Flatten(), BinaryLinear(48 * 4 * 4, 10), nn.BatchNorm1d(10))
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
    assert accuracy > 0.7, f"only {accuracy:.1%} after 300 steps (chance is 10%)"

    graph = bnnkit.export(model, x_train[:1], x_train[:256])
    bconvs = [n.attrs for n in graph.nodes if n.op == "bconv"]
    assert {tuple(a.get("dilation", (1, 1))) for a in bconvs} >= {(2, 2)}
    assert {a.get("groups", 1) for a in bconvs} >= {3}
    golden_out = golden.run(graph, x_test.numpy())
    agreement = float(np.mean(golden_out.argmax(1) == torch_pred))
    assert agreement >= 0.99, f"golden and PyTorch agree on top-1 for only {agreement:.1%}"
    write_project(graph, tmp_path / "c", name="grouped")
    assert np.array_equal(CModel(tmp_path / "c")(x_test.numpy()), golden_out)
