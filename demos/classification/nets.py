"""The demo networks (torch). Binary body, INT8 first and last layers.

``fashion_net(binary=True)``: float 3x3 stem 1->64 + BN, five binary 3x3
convs with +1 padding (64, 128, 128, 256, 256) each followed by BN, max-pools
after the 1st and 3rd (28 -> 14 -> 7), global average pool, INT8 linear head.
``binary=False`` is the float teacher of the same shape (ReLU where the BNN
takes the sign).
"""

from __future__ import annotations

from torch import nn

from ...nn import BinaryConv2d


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
