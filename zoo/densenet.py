"""BinaryDenseNet28 and BinaryDenseNet37Dilated (Bethge et al., "BinaryDenseNet:
Developing an Architecture for Binary Neural Networks", ICCV Workshops 2019), as
larq zoo defines them (``larq_zoo/literature/densenet.py``), Keras padding
included: "same" pads the bottom and right more where the total is odd."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..nn import BinaryConv2d

GROWTH = 64


class DenseLayer(nn.Module):
    """BatchNorm -> sign -> binary 3x3 conv with ``GROWTH`` outputs (taps ``dilation``
    apart, zero "same" padding), concatenated to its input."""

    def __init__(self, cin: int, dilation: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin),
                                  BinaryConv2d(cin, GROWTH, 3, padding=dilation, pad_value=0.0,
                                               dilation=dilation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


def _binary_densenet(layers: Sequence[int], reductions: Sequence[float],
                     dilations: Sequence[int], classes: int) -> nn.Sequential:
    """larq zoo's BinaryDenseNet: a 7x7/2 INT8 stem, BN, ReLU and a 3x3/2 max-pool
    (Keras "same": 2 rows before and 3 after the stem's input, the pool's last
    window one past the end, which ``ceil_mode`` gives); dense blocks of ``layers``;
    between blocks BN, a 2x2 max-pool unless the next block is dilated, ReLU and a
    1x1 INT8 conv that cuts the width by the block's reduction (rounded to a
    multiple of 32); BN, ReLU, global pool, FC."""
    stem: list[nn.Module] = [nn.ZeroPad2d((2, 3, 2, 3)),
                             nn.Conv2d(3, 64, 7, stride=2, bias=False),
                             nn.BatchNorm2d(64), nn.ReLU(),
                             nn.MaxPool2d(3, stride=2, ceil_mode=True)]
    body: list[nn.Module] = []
    width = 64
    for block, n in enumerate(layers):
        for _ in range(n):
            body.append(DenseLayer(width, dilations[block]))
            width += GROWTH
        if block < len(layers) - 1:
            out = round(width // reductions[block] / 32) * 32
            pool = [nn.MaxPool2d(2)] if dilations[block + 1] == 1 else []
            body += [nn.BatchNorm2d(width), *pool, nn.ReLU(),
                     nn.Conv2d(width, out, 1, bias=False)]
            width = out
    head = [nn.BatchNorm2d(width), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(width, classes)]
    return nn.Sequential(*stem, *body, *head)


def binary_densenet28(classes: int = 1000) -> nn.Sequential:
    """BinaryDenseNet28: dense blocks of 6, 6, 6, 5 layers, reductions 2.7, 2.7, 2.2,
    undilated.

    At 224x224x3: binary MACs 3.587 G, INT8 MACs 202.5 M (the paper gives no op count).
    """
    return _binary_densenet((6, 6, 6, 5), (2.7, 2.7, 2.2), (1, 1, 1, 1), classes)


def binary_densenet37_dilated(classes: int = 1000) -> nn.Sequential:
    """BinaryDenseNet37Dilated: dense blocks of 6, 8, 12, 6 layers, reductions 3.3, 3.3,
    4; the last two blocks dilated by 2 and 4 instead of pooled, so they run at 28x28
    (output stride 8, for dense prediction).

    At 224x224x3: binary MACs 7.774 G, INT8 MACs 452.6 M (the paper gives no op count;
    its weights and BatchNorm statistics are the 8,734,120 parameters larq zoo lists).
    """
    return _binary_densenet((6, 8, 12, 6), (3.3, 3.3, 4), (1, 1, 2, 4), classes)
