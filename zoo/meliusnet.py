"""MeliusNet22 and MeliusNet29 (Bethge et al., "MeliusNet: Can Binary Neural Networks
Achieve MobileNet-level Accuracy?", WACV 2021, arXiv:2001.05936), as larq zoo defines
them (``larq_zoo/literature/meliusnet.py``), with the grouped stem the paper's results
use."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn import BinaryConv2d

GROWTH = 64


def _binary_conv(cin: int, growth: int) -> nn.Sequential:
    """BatchNorm -> sign -> binary 3x3 conv with ``growth`` outputs (zero padding)."""
    return nn.Sequential(nn.BatchNorm2d(cin),
                         BinaryConv2d(cin, growth, 3, padding=1, pad_value=0.0))


class DenseBlock(nn.Module):
    """``growth`` new channels, concatenated to the input."""

    def __init__(self, cin: int, growth: int = GROWTH) -> None:
        super().__init__()
        self.body = _binary_conv(cin, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


class ImprovementBlock(nn.Module):
    """A binary conv's output added into the last ``growth`` channels of its input."""

    def __init__(self, cin: int, growth: int = GROWTH) -> None:
        super().__init__()
        self.growth = growth
        self.body = _binary_conv(cin, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.pad(self.body(x), (0, 0, 0, 0, x.shape[1] - self.growth, 0))


def grouped_stem(cin: int = 3, width: int = 32) -> list[nn.Module]:
    """3x3/2 conv (TensorFlow's "same" padding: one row and column after), then 3x3
    convs in 4 and 8 groups, each with BatchNorm and ReLU, and a 2x2 max-pool: INT8."""
    return [nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(cin, width, 3, stride=2, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1, groups=4, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1, groups=8, bias=False),
            nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2)]


def meliusnet(blocks: tuple[int, ...], transitions: tuple[int, ...], classes: int = 1000,
              stem_width: int = 32, growth: int = GROWTH, cin: int = 3,
              improvement: type[nn.Module] = ImprovementBlock) -> nn.Sequential:
    """The grouped stem, then per section ``blocks[i]`` dense + improvement block pairs
    and (but after the last) a transition: BatchNorm, 2x2 max-pool, ReLU and a 1x1 INT8
    conv to ``transitions[i]`` channels; BatchNorm, ReLU, global pool, FC. The defaults
    are the paper's; smaller ones make the reduced versions the tests train."""
    layers = grouped_stem(cin, stem_width)
    width = 2 * stem_width
    for i, n in enumerate(blocks):
        for _ in range(n):
            layers += [DenseBlock(width, growth), improvement(width + growth, growth)]
            width += growth
        if i < len(transitions):
            layers += [nn.BatchNorm2d(width), nn.MaxPool2d(2), nn.ReLU(),
                       nn.Conv2d(width, transitions[i], 1, bias=False)]
            width = transitions[i]
    layers += [nn.BatchNorm2d(width), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(width, classes)]
    return nn.Sequential(*layers)


def meliusnet22(classes: int = 1000) -> nn.Sequential:
    """MeliusNet22: sections of 4, 5, 4, 4 block pairs, transitions to 160, 224, 256
    channels (the paper's reductions 2.2, 2.2, 2, rounded to a multiple of 32).

    At 224x224x3: binary MACs 4.624 G, INT8 MACs 136.4 M; the paper gives 4.62e9 BOPs
    and 1.35e8 FLOPs (Table 2; within 0.1% and 1.1%).
    """
    return meliusnet((4, 5, 4, 4), (160, 224, 256), classes)


def meliusnet29(classes: int = 1000) -> nn.Sequential:
    """MeliusNet29: sections of 4, 6, 8, 6 block pairs, transitions to 128, 192, 256
    channels (the paper's reductions 2.7, 2.7, 2.7, rounded to a multiple of 32).

    At 224x224x3: binary MACs 5.470 G, INT8 MACs 129.5 M; the paper gives 5.47e9 BOPs
    and 1.29e8 FLOPs (Table 2; within 0.1% and 0.4%).
    """
    return meliusnet((4, 6, 8, 6), (128, 192, 256), classes)
