"""The pose network (torch): binary body, INT8 stem and heatmap head.

Input: a 64x64 grey crop around one person. Output: 17 heatmaps of 16x16
(one per COCO keypoint), logits of a spatial softmax; decode.py turns them
into sub-pixel keypoints.

Heatmaps rather than direct regression: a binary body keeps spatial
structure (each output cell sees a local window) but loses magnitudes, and
regressing 34 coordinates out of a global pool of sign bits would put the
whole burden on one INT8 linear layer; a heatmap peak is a comparison
between cells, which survives binarization and INT8 rounding well.

    stem   conv 3x3 stride 2, 1 -> 32, BN          INT8   64 -> 32
    body   binary conv 3x3 32 -> 64, BN, max-pool   bits   32 -> 16
           binary conv 3x3 64 -> 96, then 3 x 96 -> 96, each + BN
    head   conv 1x1 96 -> 17                        INT8   16x16x17

Receptive field of a heatmap cell: 57 input pixels (most of the crop).
``binary=False`` is the float student of the same shape (ReLU where the BNN
takes the sign), the baseline the BNN is compared with.
"""

from __future__ import annotations

from torch import nn

from ..classification.nets import _conv

INPUT = 64               # crop side fed to the network
STRIDE = 4               # input pixels per heatmap cell
HEATMAP = INPUT // STRIDE
KEYPOINTS = 17
WIDTHS = (32, 64, 96, 96, 96, 96)


def pose_net(binary: bool = True, widths: tuple[int, ...] = WIDTHS) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(1, widths[0], 3, stride=2, padding=1),
                               nn.BatchNorm2d(widths[0])]
    for i, (cin, cout) in enumerate(zip(widths, widths[1:], strict=False)):
        layers += _conv(cin, cout, binary)
        if i == 0:
            layers.append(nn.MaxPool2d(2))
    if not binary:
        layers.append(nn.ReLU())
    layers.append(nn.Conv2d(widths[-1], KEYPOINTS, 1))
    return nn.Sequential(*layers)
