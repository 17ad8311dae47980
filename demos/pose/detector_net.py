"""The person detector network (torch): binary body, INT8 stem and head, CenterNet outputs.

Input: the frame, grey, letterboxed into a 64x48 canvas (detector.py).
Output: (4, 12, 16) maps, one cell per 4x4 canvas pixels: the person-centre
logit, 4 x the centre's (x, y) offset inside the cell, and 4 x the log of the
person square's side over the canvas height (detector.SIZE_GAIN).

    stem   conv 3x3 stride 2, 1 -> 16, BN           INT8   64x48 -> 32x24
    body   binary conv 3x3 16 -> 32, BN, max-pool    bits   32x24 -> 16x12
           binary conv 3x3 32 -> 48, then 3 x 48 -> 48, each + BN
    head   conv 1x1 48 -> 4                          INT8   16x12x4

Receptive field of a cell: 41 canvas pixels, most of a person who fills the
frame's height. About 18 M binary MACs, a fifth of the pose network's: a
64x48 canvas is enough to find a person (the pose network then looks at the
full-resolution crop), and it trains in the time the shared CPUs allow.
"""

from __future__ import annotations

from torch import nn

from ..classification.nets import _conv

WIDTHS = (16, 32, 48, 48, 48, 48)
OUTPUTS = 4
POOL_AFTER = (0,)        # binary convs followed by a max-pool


def detector_net(widths: tuple[int, ...] = WIDTHS) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(1, widths[0], 3, stride=2, padding=1),
                               nn.BatchNorm2d(widths[0])]
    for i, (cin, cout) in enumerate(zip(widths, widths[1:], strict=False)):
        layers += _conv(cin, cout, True)
        if i in POOL_AFTER:
            layers.append(nn.MaxPool2d(2))
    layers.append(nn.Conv2d(widths[-1], OUTPUTS, 1))
    return nn.Sequential(*layers)
