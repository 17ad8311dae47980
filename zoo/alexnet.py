"""The AlexNet-shaped BNNs: XNOR-Net (Rastegari et al., "XNOR-Net: ImageNet
Classification Using Binary Convolutional Neural Networks", ECCV 2016) and
BinaryAlexNet (Courbariaux, Hubara et al., "Binarized Neural Networks", NeurIPS
2016), as larq zoo defines them (``larq_zoo/literature/xnornet.py``,
``binary_alexnet.py``). Max-pools are 3x3/2 without padding;
``resolution`` sizes the first FC layer for other input sizes."""

from __future__ import annotations

from torch import nn

from ..nn import BinaryConv2d, BinaryLinear


def _bn(c: int, d: int = 2) -> nn.Module:
    """larq zoo's BatchNormalization(scale=False): a learnt shift, no learnt scale."""
    bn = nn.BatchNorm2d if d == 2 else nn.BatchNorm1d
    module = bn(c)
    module.weight.requires_grad_(False)
    return module


def _feature_side(resolution: int) -> int:
    """Side of the last feature map: the 11x11/4 stem (padding 4) and three 3x3/2
    max-pools shrink it; the padded 5x5 and 3x3 convs keep it."""
    side = (resolution + 2 * 4 - 11) // 4 + 1
    for _ in range(3):
        side = (side - 3) // 2 + 1
    return side


def xnor_net(classes: int = 1000, resolution: int = 224,
             input_scaling: bool = False) -> nn.Sequential:
    """XNOR-Net (AlexNet): INT8 11x11/4 stem, binary 5x5 and three 3x3 convs and two
    binary FCs with XNOR-Net's per-channel weight scale, INT8 FC classifier.
    ``input_scaling=True`` adds the paper's input scaling (section 3.2, the K matrix)
    to the four binary convs (``xnor_net_input_scaling``).

    At 224x224x3: binary MACs 1.026 G, INT8 MACs 113.4 M (the paper gives no op count).
    """
    def bconv(cin: int, cout: int, k: int) -> BinaryConv2d:
        return BinaryConv2d(cin, cout, k, padding=k // 2, pad_value=0.0, scale="xnor",
                            input_scaling=input_scaling)

    side = _feature_side(resolution)

    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4, padding=4, bias=False), _bn(96), nn.ReLU(),
        nn.MaxPool2d(3, 2), _bn(96),
        bconv(96, 256, 5), _bn(256), nn.MaxPool2d(3, 2), _bn(256),
        bconv(256, 384, 3), _bn(384),
        bconv(384, 384, 3), _bn(384),
        bconv(384, 256, 3), _bn(256), nn.MaxPool2d(3, 2), _bn(256),
        nn.Flatten(),
        BinaryLinear(256 * side * side, 4096, scale="xnor"), _bn(4096, 1),
        BinaryLinear(4096, 4096, scale="xnor"), _bn(4096, 1),
        nn.Linear(4096, classes, bias=False))


def xnor_net_input_scaling(classes: int = 1000, resolution: int = 224) -> nn.Sequential:
    """XNOR-Net with its input scaling: ``xnor_net(input_scaling=True)``. Each binary
    conv's output is multiplied per pixel by K, the mean |x| over its input channels
    box-filtered over its window (Rastegari et al. 2016, section 3.2); the binary FCs
    keep the weight scale only, as K of a whole-map window is one number per image.

    At 224x224x3: binary MACs 1.026 G, INT8 MACs 116.7 M: the INT8 layers' 113.4 M and
    K's window sums of |x - Z| (3.31 M: output pixels x taps x input channels, once per
    pixel, not per output channel), which ``bnn-export --inspect`` counts as INT8 MACs.
    """
    return xnor_net(classes, resolution, input_scaling=True)


def binary_alexnet(classes: int = 1000, resolution: int = 224) -> nn.Sequential:
    """BinaryAlexNet: 11x11/4 stem, binary 5x5 and three 3x3 convs, three binary FCs,
    each followed by BatchNorm (after the max-pool where there is one).

    larq zoo binarizes the stem's weights but feeds it the real-valued image; bnnkit's
    binary layers take +-1 inputs only, so the stem here is an INT8 conv (the same
    MACs, counted as INT8).
    At 224x224x3: binary MACs 0.769 G, INT8 MACs 72.86 M (the paper gives no op count).
    """
    def bconv(cin: int, cout: int, k: int) -> BinaryConv2d:
        return BinaryConv2d(cin, cout, k, padding=k // 2, pad_value=0.0)

    side = _feature_side(resolution)

    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=4, bias=False), nn.MaxPool2d(3, 2), _bn(64),
        bconv(64, 192, 5), nn.MaxPool2d(3, 2), _bn(192),
        bconv(192, 384, 3), _bn(384),
        bconv(384, 384, 3), _bn(384),
        bconv(384, 256, 3), nn.MaxPool2d(3, 2), _bn(256),
        nn.Flatten(),
        BinaryLinear(256 * side * side, 4096), _bn(4096, 1),
        BinaryLinear(4096, 4096), _bn(4096, 1),
        BinaryLinear(4096, classes), _bn(classes, 1))
