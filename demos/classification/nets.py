"""The demo networks (torch). Binary body, INT8 first and last layers.

``fashion_net(binary=True)``: float 3x3 stem 1->64 + BN, five binary 3x3
convs with +1 padding (64, 128, 128, 256, 256) each followed by BN, max-pools
after the 1st and 3rd (28 -> 14 -> 7), global average pool, INT8 linear head.
``binary=False`` is the float teacher of the same shape (ReLU where the BNN
takes the sign).

``fashion_bireal_net()``: the same layers with a real-valued (INT8 in C)
shortcut around every binary conv, as in Bi-Real Net, and a learnt shift
before every sign (ReActNet's RSign). A shortcut that keeps the width is the
input times a learnt per-channel gain; one that doubles it is a 1x1 INT8 conv
+ BN. Gains and the shortcut BN's scale start at 0 and the shifts at 0, so
``init_from_plain`` makes it compute exactly what the plain BNN it copies does.
It ships as ``TwoStems(net)``, the same function in a form that exports exactly.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ...nn import BinaryConv2d, Sign
from ...zoo.layers import Shift


def _conv(cin: int, cout: int, binary: bool) -> list[nn.Module]:
    if binary:
        return [BinaryConv2d(cin, cout, 3, padding=1, pad_value=1.0), nn.BatchNorm2d(cout)]
    return [nn.ReLU(), nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout)]


def conv_net(widths: list[int], pools: set[int], classes: int = 10,
             binary: bool = True) -> nn.Sequential:
    """Stem + len(widths)-1 binary convs; ``pools`` = indices of convs followed by a max-pool."""
    layers: list[nn.Module] = [nn.Conv2d(1, widths[0], 3, padding=1), nn.BatchNorm2d(widths[0])]
    for i, (cin, cout) in enumerate(zip(widths, widths[1:], strict=False)):
        layers += _conv(cin, cout, binary)
        if i in pools:
            layers.append(nn.MaxPool2d(2))
    if not binary:
        layers.append(nn.ReLU())
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[-1], classes)]
    return nn.Sequential(*layers)


def fashion_net(binary: bool = True) -> nn.Sequential:
    return conv_net([64, 64, 128, 128, 256, 256], {0, 2}, binary=binary)


def digits_net(binary: bool = True) -> nn.Sequential:
    """28x28 input too (digits are padded 20 -> 28), smaller: 32/64/64/128."""
    return conv_net([32, 32, 64, 64, 128], {0, 2}, binary=binary)


class Gain(nn.Module):
    """A learnt per-channel factor (starts at 0: the shortcut is off)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1)


class BiRealBlock(nn.Module):
    """shift -> sign -> binary 3x3 (+1 padding) -> BN, plus a real-valued shortcut."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.shift = Shift(cin)
        self.conv = BinaryConv2d(cin, cout, 3, padding=1, pad_value=1.0,
                                 input_sign=Sign(grad="approx"))
        self.bn = nn.BatchNorm2d(cout)
        if cin == cout:
            self.shortcut: nn.Module = Gain(cin)
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False),
                                          nn.BatchNorm2d(cout))
            nn.init.zeros_(self.shortcut[1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.shift(x))) + self.shortcut(x)


def fashion_bireal_net() -> nn.Sequential:
    """``fashion_net``'s widths and pools, every binary conv a ``BiRealBlock``."""
    return nn.Sequential(
        nn.Conv2d(1, 64, 3, padding=1), nn.BatchNorm2d(64),
        BiRealBlock(64, 64), nn.MaxPool2d(2), BiRealBlock(64, 128), BiRealBlock(128, 128),
        nn.MaxPool2d(2), BiRealBlock(128, 256), BiRealBlock(256, 256),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10))


def _main_path(model: nn.Module) -> list[nn.Module]:
    """The layers with weights outside the shortcuts, in order."""
    skip = {id(m) for b in model.modules() if isinstance(b, BiRealBlock)
            for m in b.shortcut.modules()}
    return [m for m in model.modules() if id(m) not in skip
            and isinstance(m, nn.Conv2d | nn.BatchNorm2d | nn.Linear | BinaryConv2d)]


def init_from_plain(model: nn.Module, plain: nn.Module) -> nn.Module:
    """Copy a trained plain BNN (``fashion_net``) into ``model``'s main path, in place.

    Binary latent weights restart at sign(w) times the mean magnitude of their
    initialization (0.5 / sqrt(fan-in)), so that they can still flip; a shipped
    model holds only the signs.
    """
    src, dst = _main_path(plain), _main_path(model)
    if [type(m) for m in src] != [type(m) for m in dst]:
        raise ValueError("init_from_plain: the two networks' main paths differ")
    with torch.no_grad():
        for a, b in zip(src, dst, strict=True):
            b.load_state_dict(a.state_dict())
            if isinstance(b, BinaryConv2d):
                b.weight.copy_(torch.where(a.weight >= 0, 1.0, -1.0)
                               * 0.5 / a.weight[0].numel() ** 0.5)
    return model


class TwoStems(nn.Module):
    """``fashion_bireal_net`` with its stem computed twice: once for the first
    block's sign, once for its shortcut.

    The same function. A stem that feeds only a sign exports as one exact
    threshold on the stem's accumulator; a shared stem is rounded to INT8
    first, and the background of a Fashion-MNIST image (one value per channel,
    near the threshold) then flipped 8.9% of the first block's signs: the
    exported C lost 0.93 points (91.24% against PyTorch's 92.17%) and with
    the second stem it loses none. The copy costs 451,584 INT8 MACs.
    """

    def __init__(self, net: nn.Sequential) -> None:
        super().__init__()
        self.net = net
        self.stem_for_sign = copy.deepcopy(net[:2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.net[2]
        y = (first.bn(first.conv(first.shift(self.stem_for_sign(x))))
             + first.shortcut(self.net[1](self.net[0](x))))
        for layer in self.net[3:]:
            y = layer(y)
        return y
