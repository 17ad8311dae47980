"""Channel shuffle (ShuffleNet's view, transpose, reshape) exports as no op: the
permutation folds into the next convolution's input channels, through BatchNorm,
activations, signs and depthwise convs, and is refused in one line where it cannot."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import bnnkit
from bnnkit.errors import UnsupportedModelError
from bnnkit.export.frontend import from_exported
from bnnkit.export.modelfile import _trace
from bnnkit.golden.interpreter import execute, to_nhwc
from bnnkit.nn import BinaryConv2d

from .models import randomize_batchnorm


class Shuffle(nn.Module):
    def __init__(self, groups: int, permute: bool = False) -> None:
        super().__init__()
        self.groups, self.permute = groups, permute

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        v = x.view(n, self.groups, c // self.groups, h, w)
        v = v.permute(0, 2, 1, 3, 4) if self.permute else v.transpose(1, 2)
        return v.reshape(n, c, h, w)


def shuffled_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 12, 3, padding=1), nn.BatchNorm2d(12), nn.PReLU(12), Shuffle(3),
        nn.BatchNorm2d(12), nn.Conv2d(12, 12, 3, padding=1, groups=12), nn.ReLU(),
        Shuffle(4, permute=True), nn.Conv2d(12, 10, 1), nn.BatchNorm2d(10), Shuffle(2),
        BinaryConv2d(10, 7, 3, padding=1), nn.BatchNorm2d(7), nn.Flatten(),
        nn.Linear(7 * 5 * 6, 4))


def test_shuffles_fold_into_the_next_convolutions() -> None:
    torch.manual_seed(0)
    model = randomize_batchnorm(shuffled_net(), seed=3)
    x = torch.randn(6, 3, 5, 6)
    graph = from_exported(_trace(model, x[:1]))
    assert [n.op for n in graph.nodes] == ["conv", "affine", "act", "affine", "conv", "act",
                                           "conv", "affine", "sign", "conv", "affine", "conv"]
    got = execute(graph, {graph.inputs[0]: to_nhwc(graph, x.numpy().astype(np.float64))})
    with torch.no_grad():
        np.testing.assert_allclose(got[graph.outputs[0]].reshape(6, -1), model(x), rtol=1e-4,
                                   atol=1e-4)
    bnnkit.export(model, x[:1], calibration=x)  # and it lowers to integers


@pytest.mark.parametrize(("tail", "message"), [
    (nn.Conv2d(8, 4, 1, groups=2), r"shuffle before a grouped convolution \(groups=2\)"),
    (nn.MaxPool2d(2), r"after a channel shuffle; a shuffle folds into the next"),
    (nn.Identity(), r"ends in a channel shuffle"),
])
def test_unfoldable_shuffle_is_refused(tail: nn.Module, message: str) -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 1), Shuffle(2), tail).eval()
    with pytest.raises(UnsupportedModelError, match=message) as err:
        bnnkit.export(model, torch.randn(1, 3, 4, 4))
    assert "\n" not in str(err.value)
