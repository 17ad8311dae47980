"""QuickNet and QuickNetSmall (Bannink et al., "Larq Compute Engine: Design,
Benchmark, and Deploy State-of-the-Art Binarized Neural Networks", MLSys 2021),
as larq zoo defines them (``larq_zoo/sota/quicknet.py``)."""

from __future__ import annotations

import torch
from torch import nn

from ..nn import BinaryConv2d, Sign

SIGN_CLIP = 1.25  # larq zoo's SteSign(clip_value=1.25)


class ResidualBlock(nn.Module):
    """Binary 3x3 conv (+1 padding) -> ReLU -> BatchNorm, added to the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            BinaryConv2d(channels, channels, 3, padding=1, pad_value=1.0,
                         input_sign=Sign(clip=SIGN_CLIP)),
            nn.ReLU(), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


def _transition(cin: int, cout: int) -> list[nn.Module]:
    """ReLU, 2x2 max-pool (stride 1), 3x3 depthwise stride 2 (larq zoo fixes it to a
    blur kernel; here it is an ordinary depthwise conv), 1x1 conv, BatchNorm."""
    return [nn.ReLU(), nn.MaxPool2d(2, stride=1),
            nn.Conv2d(cin, cin, 3, stride=2, padding=1, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)]


def quicknet_family(filters: tuple[int, ...], blocks: tuple[int, ...] = (4, 4, 4, 4),
                    classes: int = 1000) -> nn.Sequential:
    """Stem (3x3/2 conv, 3x3/2 depthwise, 1x1 conv), sections of residual blocks with a
    transition in front of each width change, ReLU, global average pool, FC."""
    f0 = filters[0]
    layers: list[nn.Module] = [
        nn.Conv2d(3, f0 // 4, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(f0 // 4),
        nn.ReLU(),
        nn.Conv2d(f0 // 4, f0 // 4, 3, stride=2, padding=1, groups=f0 // 4, bias=False),
        nn.BatchNorm2d(f0 // 4, affine=False),
        nn.Conv2d(f0 // 4, f0, 1, bias=False), nn.BatchNorm2d(f0)]
    width = f0
    for n, f in zip(blocks, filters, strict=True):
        if f != width:
            layers += _transition(width, f)
            width = f
        layers += [ResidualBlock(f) for _ in range(n)]
    layers += [nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes)]
    return nn.Sequential(*layers)


def quicknet_small(classes: int = 1000) -> nn.Sequential:
    """QuickNetSmall: larq zoo's ``QuickNetSmall`` (59.4% ImageNet top-1 there).

    Sections of 4 residual blocks at 32, 64, 256 and 512 channels.
    At 224x224x3: binary MACs 1.156 G, INT8 MACs 15.94 M (the paper gives no op count).
    """
    return quicknet_family((32, 64, 256, 512), classes=classes)


def quicknet(classes: int = 1000) -> nn.Sequential:
    """QuickNet: larq zoo's ``QuickNet`` (63.3% ImageNet top-1 there).

    Sections of 4 residual blocks at 64, 128, 256 and 512 channels.
    At 224x224x3: binary MACs 1.850 G, INT8 MACs 29.65 M (the paper gives no op count).
    """
    return quicknet_family((64, 128, 256, 512), classes=classes)
