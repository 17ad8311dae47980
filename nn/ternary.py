"""Ternary-weight layers for training: TTQ (Zhu, Han, Mao and Dally, "Trained Ternary
Quantization", ICLR 2017).

Per layer, two trained scalars Wp, Wn > 0; the latent weights W are ternarized
by the threshold delta = t * max|W| to +Wp (W > delta), -Wn (W < -delta) or 0.
The paper's gradients: dL/dWp sums dL/dw over the +Wp weights, dL/dWn minus the
sum over the -Wn weights, and dL/dW is dL/dw scaled by Wp, 1 or Wn on the three
parts. Inputs are real-valued (``input_sign=None``: INT8 activations in C,
``conv_i8_w2``) or binarized by a ``Sign`` (``bconv_w2``). The export stores the
weights as two bit planes and Wp, Wn as integers (docs/numeric-contract.md).
"""

from __future__ import annotations

import torch
from torch import nn

from .binary import BinaryConv2d, BinaryLinear

DEFAULT_THRESHOLD = 0.05  # the paper's t


class _TernaryWeights:
    """TTQ's ternarization of ``weight`` with the trained ``wp`` and ``wn``."""

    weight: nn.Parameter
    training: bool

    def _init_ternary(self, threshold: float) -> None:
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold={threshold}: use a fraction of max|W| in [0, 1)")
        self.threshold = float(threshold)
        # 1, not the latent weights' scale: a BatchNorm after the layer makes the scale
        # free, and Adam's steps (about the learning rate) stay small against 1
        self.wp = nn.Parameter(torch.ones(()))
        self.wn = nn.Parameter(torch.ones(()))

    def _binary_weight(self) -> torch.Tensor:
        w = self.weight
        delta = self.threshold * w.detach().abs().max()
        pos = (w.detach() > delta).to(w.dtype)
        neg = (w.detach() < -delta).to(w.dtype)
        ternary = self.wp * pos - self.wn * neg
        if not self.training:
            return ternary
        # straight through to W, scaled by Wp, 1 and Wn on the three parts
        through = self.wp.detach() * pos + self.wn.detach() * neg + (1.0 - pos - neg)
        return ternary + (w - w.detach()) * through


class TernaryConv2d(_TernaryWeights, BinaryConv2d):
    """Conv2d with TTQ ternary weights {-Wn, 0, +Wp}; real-valued inputs (zero padding)
    unless ``input_sign`` binarizes them (then ``pad_value`` as ``BinaryConv2d``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 pad_value: float = 0.0, bias: bool = False,
                 threshold: float = DEFAULT_THRESHOLD,
                 input_sign: nn.Module | None = None) -> None:
        if input_sign is None and pad_value != 0.0:
            raise ValueError(f"pad_value={pad_value} on real-valued inputs: they pad with "
                             f"zeros; binarize the inputs (input_sign=Sign()) to pad with +1")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, pad_value,
                         bias, None, input_sign)
        self._init_ternary(threshold)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, threshold={self.threshold}"


class TernaryLinear(_TernaryWeights, BinaryLinear):
    """Linear layer with TTQ ternary weights; real-valued inputs unless ``input_sign``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False,
                 threshold: float = DEFAULT_THRESHOLD,
                 input_sign: nn.Module | None = None) -> None:
        super().__init__(in_features, out_features, bias, None, input_sign)
        self._init_ternary(threshold)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, threshold={self.threshold}"
