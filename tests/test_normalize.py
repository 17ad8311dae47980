"""Models that declare input normalization take raw uint8 pixels."""

from __future__ import annotations

import numpy as np
import torch

import bnnkit
from bnnkit import golden

from . import models


def test_pixels_in_through_a_per_channel_table(tmp_path) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    model = models.randomize_batchnorm(models.classic(width=32), zero=True)
    mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
    pixels = torch.randint(0, 256, (120, 3, 12, 10)).float()
    x = (pixels / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    path = bnnkit.save(model, tmp_path / "m.pt", x[:1], calibration=x[:60],
                       normalize=(mean, std))
    graph = bnnkit.export(path)
    assert graph.tensors[graph.inputs[0]].dtype == "uint8"
    assert graph.nodes[0].op == "lut"
    raw = golden.quantize_input(graph, x.numpy())
    np.testing.assert_array_equal(raw, pixels.permute(0, 2, 3, 1).numpy().astype(np.uint8))
    ref = golden.run(graph, x.numpy())
    with torch.no_grad():
        agree = np.mean(ref.argmax(1) == model(x).numpy().argmax(1))
    assert agree >= 0.9
