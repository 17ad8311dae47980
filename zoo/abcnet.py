"""ABC-Net ResNet-18 (Lin et al., "Towards Accurate Binary Convolutional Neural
Network", NeurIPS 2017): ResNet-18 with every 3x3 convolution an ABC-Net convolution
of M binary weight bases and N binary activation bases (``bnnkit.nn.ABCConv2d``).
larq zoo has no ABC-Net; this follows the paper's section 4 (ResNet-18, M = N = 3
in its best row), keeping the INT8 stem, the 1x1 downsampling shortcuts and the
classifier real-valued as the paper does for the first and last layers."""

from __future__ import annotations

import torch
from torch import nn

from ..nn import ABCConv2d
from .resnet import resnet18


class ABCBlock(nn.Module):
    """ResNet's basic block with ABC convolutions: two 3x3 ABC convs, each followed by
    BatchNorm (which the next convolution's shifted signs read), and a shortcut: the
    identity, or a 1x1/2 INT8 conv with BatchNorm where the width doubles."""

    def __init__(self, cin: int, cout: int, bases: int = 3) -> None:
        super().__init__()
        stride = 1 if cin == cout else 2

        def conv(ci: int, s: int) -> ABCConv2d:
            return ABCConv2d(ci, cout, 3, stride=s, padding=1, weight_bases=bases,
                             activation_bases=bases)

        self.body = nn.Sequential(conv(cin, stride), nn.BatchNorm2d(cout),
                                  conv(cout, 1), nn.BatchNorm2d(cout))
        self.shortcut: nn.Module = nn.Identity()
        if cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


def abc_resnet18(classes: int = 1000) -> nn.Sequential:
    """ABC-Net ResNet-18, M = N = 3: 16 ABC convs of 9 binary convs each.

    At 224x224x3: binary MACs 15.09 G, INT8 MACs 137.8 M (the paper gives no op count;
    the binary MACs are 9x those of ResNet-18's 3x3 convs).
    """
    return resnet18(ABCBlock, 2, classes, stem_relu=False)
