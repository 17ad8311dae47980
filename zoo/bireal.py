"""Bi-Real Net 18 (Liu et al., "Bi-Real Net: Enhancing the Performance of 1-bit CNNs
with Improved Representational Capability and Advanced Training Algorithm",
ECCV 2018), as larq zoo defines it (``larq_zoo/literature/birealnet.py``)."""

from __future__ import annotations

import torch
from torch import nn

from ..nn import BinaryConv2d, Sign
from .resnet import resnet18


class BiRealBlock(nn.Module):
    """One binary 3x3 conv (zero padding, ApproxSign) + BatchNorm, with its own
    real-valued shortcut; a width change takes a 2x2 average pool and a 1x1 conv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        stride = 1 if cin == cout else 2
        self.body = nn.Sequential(
            BinaryConv2d(cin, cout, 3, stride=stride, padding=1, pad_value=0.0,
                         input_sign=Sign(grad="approx")),
            nn.BatchNorm2d(cout))
        self.shortcut: nn.Module = nn.Identity()
        if cin != cout:
            self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(cin, cout, 1, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


def bireal_net18(classes: int = 1000) -> nn.Sequential:
    """Bi-Real Net 18: 7x7/2 stem, 3x3/2 max-pool, 16 binary convs each with a shortcut.

    At 224x224x3: binary MACs 1.676 G, INT8 MACs 137.8 M (the paper, Table 5:
    1.68e9 BOPs and 1.39e8 FLOPs).
    """
    return resnet18(BiRealBlock, 4, classes, stem_relu=False)
