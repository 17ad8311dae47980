"""ReActNet-A (Liu et al., "ReActNet: Towards Precise Binary Neural Network with
Generalized Activation Functions", ECCV 2020): MobileNetV1's layout with every
depthwise-separable pair replaced by a binary 3x3 conv and a binary 1x1 conv, RSign
(a learnt per-channel shift before the sign) and RPReLU."""

from __future__ import annotations

import torch
from torch import nn

from ..nn import BinaryConv2d
from .layers import Shift, rprelu

#: (input channels, output channels, stride) of the 13 blocks.
BLOCKS = ((32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1),
          (256, 512, 2), *[(512, 512, 1)] * 5, (512, 1024, 2), (1024, 1024, 1))


class ReActBlock(nn.Module):
    """RSign -> binary 3x3 (stride s) -> BN, + shortcut (2x2 average pool at stride 2),
    RPReLU; RSign -> binary 1x1 -> BN, + that, RPReLU. Doubling the width runs two
    1x1 convs on the same input and concatenates them, each with the shortcut added."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.shift3 = Shift(cin)
        self.conv3 = BinaryConv2d(cin, cin, 3, stride=stride, padding=1, pad_value=0.0)
        self.bn3 = nn.BatchNorm2d(cin)
        self.pool = nn.AvgPool2d(2) if stride == 2 else nn.Identity()
        self.act3 = rprelu(cin)
        self.shift1 = Shift(cin)
        self.pointwise = nn.ModuleList(
            nn.Sequential(BinaryConv2d(cin, cin, 1), nn.BatchNorm2d(cin))
            for _ in range(cout // cin))
        self.act1 = rprelu(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act3(self.bn3(self.conv3(self.shift3(x))) + self.pool(x))
        z = self.shift1(y)
        parts = [branch(z) + y for branch in self.pointwise]
        return self.act1(parts[0] if len(parts) == 1 else torch.cat(parts, dim=1))


def reactnet_a(classes: int = 1000) -> nn.Sequential:
    """ReActNet-A: INT8 3x3/2 stem conv, 13 binary blocks, global average pool, FC.

    At 224x224x3: binary MACs 4.817 G, INT8 MACs 11.86 M (the paper, Table 1:
    4.82e9 BOPs and 0.12e8 FLOPs).
    """
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32),
        *[ReActBlock(cin, cout, s) for cin, cout, s in BLOCKS],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, classes))
