"""BinaryDenseNet28 (Bethge et al., "BinaryDenseNet: Developing an Architecture
for Binary Neural Networks", ICCV Workshops 2019), as larq zoo defines it
(``larq_zoo/literature/densenet.py``)."""

from __future__ import annotations

import torch
from torch import nn

from ..nn import BinaryConv2d

GROWTH = 64


class DenseLayer(nn.Module):
    """BatchNorm -> sign -> binary 3x3 conv with ``GROWTH`` outputs, concatenated to
    its input."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin),
                                  BinaryConv2d(cin, GROWTH, 3, padding=1, pad_value=0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


def binary_densenet28(classes: int = 1000) -> nn.Sequential:
    """BinaryDenseNet28: 7x7/2 stem, 3x3/2 max-pool, dense blocks of 6, 6, 6, 5 layers,
    each transition BN, 2x2 max-pool, ReLU and a 1x1 INT8 conv that cuts the width by
    2.7, 2.7, 2.2 (rounded to a multiple of 32); BN, ReLU, global pool, FC.

    At 224x224x3: binary MACs 3.587 G, INT8 MACs 202.5 M (the paper gives no op count).
    """
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
                               nn.BatchNorm2d(64), nn.ReLU(),
                               nn.MaxPool2d(3, stride=2, padding=1)]
    width = 64
    for block, (n, reduction) in enumerate(zip((6, 6, 6, 5), (2.7, 2.7, 2.2, None),
                                               strict=True)):
        for _ in range(n):
            layers.append(DenseLayer(width))
            width += GROWTH
        if block < 3:
            out = round(width // reduction / 32) * 32
            layers += [nn.BatchNorm2d(width), nn.MaxPool2d(2), nn.ReLU(),
                       nn.Conv2d(width, out, 1, bias=False)]
            width = out
    layers += [nn.BatchNorm2d(width), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(width, classes)]
    return nn.Sequential(*layers)
