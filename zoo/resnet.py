"""ResNet-18 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016)
with its 3x3 and 1x1 shortcut convs of one layer kind: the zoo's one ResNet-18
definition, and its binary-weight and ternary-weight networks.

BinaryConnect (Courbariaux, Bengio and David, "BinaryConnect: Training Deep Neural
Networks with binary weights during propagations", NeurIPS 2015) and XNOR-Net's BWN
(Rastegari et al., "XNOR-Net: ImageNet Classification Using Binary Convolutional
Neural Networks", ECCV 2016) binarize the weights of every conv but the stem and
keep the classifier real-valued, as XNOR-Net's ResNet-18 BWN does; activations stay
real (INT8 in C), so their MACs are INT8 activations x 1-bit weights, counted as
INT8 MACs.

TTQ (Zhu, Han, Mao and Dally, "Trained Ternary Quantization", ICLR 2017) ternarizes
the same convs to {-Wn, 0, +Wp} with two trained scalars per layer, the stem and the
classifier kept real as in the paper's ResNet-18; INT8 activations x ternary weights
in C, counted as INT8 MACs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..nn import BinaryWeightConv2d, TernaryConv2d

#: (cin, cout, kernel, stride, padding) -> the conv module of a block
ConvFactory = Callable[[int, int, int, int, int], nn.Module]


class BasicBlock(nn.Module):
    """conv 3x3 -> BatchNorm -> ReLU -> conv 3x3 -> BatchNorm, plus the input (through a
    1x1 stride-2 conv and BatchNorm where the width doubles), then ReLU."""

    def __init__(self, conv: ConvFactory, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU(),
                                  conv(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout))
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(conv(cin, cout, 1, stride, 0), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def resnet18(block: Callable[[int, int], nn.Module], blocks_per_stage: int = 2,
             classes: int = 1000, stem_relu: bool = True) -> nn.Sequential:
    """ResNet-18's skeleton, the zoo's one: 7x7/2 INT8 stem and BatchNorm (and ReLU,
    unless ``stem_relu`` is False), 3x3/2 max-pool, four stages of ``blocks_per_stage``
    ``block(cin, cout)`` (64 to 512 channels; a block whose width changes strides by 2),
    global average pool and an INT8 classifier."""
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
                               nn.BatchNorm2d(64), *([nn.ReLU()] if stem_relu else []),
                               nn.MaxPool2d(3, 2, padding=1)]
    width = 64
    for stage in range(4):
        out = 64 << stage
        layers += [block(width if k == 0 else out, out) for k in range(blocks_per_stage)]
        width = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes)]
    return nn.Sequential(*layers)


def _basic_blocks(conv: ConvFactory) -> Callable[[int, int], nn.Module]:
    return lambda cin, cout: BasicBlock(conv, cin, cout, 1 if cin == cout else 2)


def _binary_weight_conv(scale: str | None, stochastic: bool) -> ConvFactory:
    def conv(cin: int, cout: int, k: int, stride: int, padding: int) -> nn.Module:
        return BinaryWeightConv2d(cin, cout, k, stride, padding, scale=scale,
                                  stochastic=stochastic)
    return conv


def bwn_resnet18(classes: int = 1000) -> nn.Sequential:
    """XNOR-Net's BWN ResNet-18: +-1 weights with a per-output-channel alpha = mean|W|,
    real-valued activations (INT8 x 1-bit in C); the stem and the FC stay real.

    At 224x224x3: binary MACs 0 G, INT8 MACs 1814.1 M (of them 1695.5 M INT8 x
    1-bit). He et al. give 1.8e9 multiply-adds for ResNet-18 (Table 1); XNOR-Net
    counts none of its own.
    """
    return resnet18(_basic_blocks(_binary_weight_conv("xnor", False)), classes=classes)


def binaryconnect_resnet18(classes: int = 1000) -> nn.Sequential:
    """BinaryConnect on ResNet-18 (the paper's own nets are for CIFAR-10 and SVHN; at
    224x224 this is ResNet-18 with BinaryConnect's layers): +-1 weights, stochastic
    binarization in training (+1 with probability hard_sigmoid(w)), the sign at
    export; no alpha (the BatchNorm after each conv scales it), real activations.

    At 224x224x3: binary MACs 0 G, INT8 MACs 1814.1 M (of them 1695.5 M INT8 x
    1-bit), the same graph as ``bwn_resnet18``.
    """
    return resnet18(_basic_blocks(_binary_weight_conv(None, True)), classes=classes)


def ttq_resnet18(classes: int = 1000) -> nn.Sequential:
    """TTQ's ResNet-18 (Zhu et al. 2017, Table 2: ImageNet ResNet-18): every conv but
    the stem ternary, {-Wn, 0, +Wp} with per-layer trained Wp, Wn and threshold 0.05 *
    max|W|; real-valued activations (INT8 x ternary in C, ``conv_i8_w2``); the stem
    and the FC stay real.

    At 224x224x3: binary MACs 0 G, INT8 MACs 1814.1 M (of them 1695.5 M INT8 x
    ternary), the graph of ``bwn_resnet18`` with two weight planes. The paper counts
    no MACs of its own; He et al. give 1.8e9 multiply-adds for ResNet-18 (Table 1).
    """
    return resnet18(_basic_blocks(TernaryConv2d), classes=classes)
