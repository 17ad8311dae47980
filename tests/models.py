"""Model builders shared by the export tests: the BNN shapes users train."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

import bnnkit
from bnnkit.nn import ABCConv2d, BinaryConv2d, BinaryLinear, Sign, TernaryConv2d
from bnnkit.zoo.abcnet import ABCBlock
from bnnkit.zoo.meliusnet import ImprovementBlock, meliusnet
from bnnkit.zoo.resnet import BasicBlock


def randomize_batchnorm(model: nn.Module, seed: int = 0, negative: bool = True,
                        zero: bool = False) -> nn.Module:
    """Give BatchNorms trained-looking statistics, with negative (and zero) gammas."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.rand(c, generator=g) * 4 - 2)
            m.running_var.copy_(torch.rand(c, generator=g) * 3 + 0.3)
            lo = -1.5 if negative else 0.2
            m.weight.data.copy_(torch.rand(c, generator=g) * (1.5 - lo) + lo)
            if zero and c > 1:
                m.weight.data[0] = 0.0
            m.bias.data.copy_(torch.rand(c, generator=g) - 0.5)
    return model.eval()


def classic(cin: int = 3, width: int = 64, kernel: int = 3, stride: int = 1,
            pad_value: float = 1.0, padding: int | None = None, scale: str | None = None,
            hw: tuple[int, int] = (12, 10), classes: int = 10) -> nn.Sequential:
    """conv-BN-sign stem, binary convs, maxpool on bits, binary linear head."""
    p = kernel // 2 if padding is None else padding
    h, w = hw
    oh = (h + 2 * p - kernel) // stride + 1
    ow = (w + 2 * p - kernel) // stride + 1
    return nn.Sequential(
        nn.Conv2d(cin, 32, 3, padding=1), nn.BatchNorm2d(32),
        BinaryConv2d(32, width, kernel, stride=stride, padding=p, pad_value=pad_value,
                     scale=scale),
        nn.BatchNorm2d(width),
        BinaryConv2d(width, width, 3, padding=1, pad_value=pad_value, scale=scale),
        nn.MaxPool2d(2), nn.BatchNorm2d(width),
        nn.Flatten(),
        BinaryLinear(width * (oh // 2) * (ow // 2), classes, scale=scale),
        nn.BatchNorm1d(classes),
    )


class BiRealBlock(nn.Module):
    """Bi-Real Net: binary conv + BN on a real-valued (INT8) shortcut stream."""

    def __init__(self, cin: int, cout: int, stride: int = 1, pad_value: float = 0.0) -> None:
        super().__init__()
        self.conv = BinaryConv2d(cin, cout, 3, stride=stride, padding=1, pad_value=pad_value)
        self.bn = nn.BatchNorm2d(cout)
        self.down: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.AvgPool2d(stride) if stride > 1 else nn.Identity(),
                                      nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.down is None else self.down(x)
        return self.bn(self.conv(x)) + shortcut


def bireal(width: int = 16, hw: tuple[int, int] = (16, 16), classes: int = 10,
           pad_value: float = 0.0) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
        BiRealBlock(width, width, 1, pad_value), BiRealBlock(width, width, 1, pad_value),
        BiRealBlock(width, 2 * width, 2, pad_value),
        nn.PReLU(2 * width),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, classes),
    )


class DenseBits(nn.Module):
    """DenseNet-style growth on bits: cat([x, sign(bn(bconv(x)))]) on channels."""

    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.conv = BinaryConv2d(cin, growth, 3, padding=1, pad_value=1.0, input_sign=None)
        self.bn = nn.BatchNorm2d(growth)
        self.sign = Sign()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.sign(self.bn(self.conv(x)))], dim=1)


class DenseReal(nn.Module):
    """BinaryDenseNet-style growth on the real-valued stream (INT8 concat)."""

    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.conv = BinaryConv2d(cin, growth, 3, padding=1)
        self.bn = nn.BatchNorm2d(growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.bn(self.conv(x))], dim=1)


def dense(cin: int = 3, growth: int = 40) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, 24, 3, padding=1), nn.BatchNorm2d(24), Sign(),
        DenseBits(24, growth), DenseBits(24 + growth, growth),
        BinaryConv2d(24 + 2 * growth, 32, 1, input_sign=None), nn.BatchNorm2d(32),
        DenseReal(32, growth), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32 + growth, 10),
    )


def abc(width: int = 20, classes: int = 10) -> nn.Sequential:
    """ABC-Net: the zoo's ResNet block (M = N = 3, zero padding, a strided block with an
    INT8 shortcut), then an ABC conv with +1 padding and other base counts."""
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
        ABCBlock(width, width), ABCBlock(width, 2 * width),
        ABCConv2d(2 * width, width, 3, padding=1, pad_value=1.0, weight_bases=2,
                  activation_bases=1), nn.BatchNorm2d(width),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes),
    )


def ttq(width: int = 20, classes: int = 10) -> nn.Sequential:
    """TTQ: the zoo's ResNet-18 block with ternary convs (a plain block, then a strided one
    with its 1x1 ternary shortcut; INT8 activations of 20 and 40 channels, which the NEON
    path takes as whole vectors of 16 and a tail), then a BatchNorm and a ternary conv on
    its signs with +1 padding."""
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        BasicBlock(TernaryConv2d, width, width, 1),
        BasicBlock(TernaryConv2d, width, 2 * width, 2), nn.BatchNorm2d(2 * width),
        TernaryConv2d(2 * width, width, 3, padding=1, pad_value=1.0, input_sign=Sign()),
        nn.BatchNorm2d(width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(width, classes),
    )


def pool_then_negative_batchnorm(cin: int = 3, width: int = 12, classes: int = 5,
                                 hw: tuple[int, int] = (9, 8)) -> nn.Sequential:
    """INT8 conv -> max-pool -> BatchNorm (negative gammas) -> Linear: no sign after the
    pool, so the pool stays on int8 and the BatchNorm after it."""
    h, w = hw
    return nn.Sequential(
        nn.Conv2d(cin, width, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(width),
        nn.Flatten(), nn.Linear(width * (h // 2) * (w // 2), classes))


def small_model_file(path: Path, stem: int = 8, hw: int = 6, **save_options: Any) -> Path:
    """A small saved model (INT8 stem, one binary conv, INT8 head, calibration
    included) for tests that damage or check model files; ``save_options`` go to
    :func:`bnnkit.save`."""
    torch.manual_seed(0)
    model = randomize_batchnorm(nn.Sequential(
        nn.Conv2d(1, stem, 3, padding=1), nn.BatchNorm2d(stem),
        BinaryConv2d(stem, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Flatten(),
        nn.Linear(8 * hw * hw, 3)))
    x = torch.randn(16, 1, hw, hw)
    bnnkit.save(model, path, x[:1], calibration=x, **save_options)
    return path


class ImprovementCat(ImprovementBlock):
    """MeliusNet's improvement block written as a channel slice and a concat."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = x.shape[1] - self.growth
        return torch.cat([x[:, :k], x[:, k:] + self.body(x)], dim=1)


def melius(cin: int = 3, growth: int = 20, classes: int = 10, cat_form: bool = False
           ) -> nn.Sequential:
    """A reduced MeliusNet: the zoo's grouped stem and blocks at small widths (channel
    counts and offsets off the 16-lane vectors), two sections and a transition."""
    return meliusnet((1, 2), (40,), classes, stem_width=8, growth=growth, cin=cin,
                     improvement=ImprovementCat if cat_form else ImprovementBlock)
