"""Binary convolution and linear layers for training.

Both binarize their input (through ``input_sign``, unless it is ``None``
because the input is already +-1) and their latent float weights. Padding of
a binary convolution is explicit: ``pad_value=0.0`` is PyTorch's zero padding
(padded taps add nothing), ``pad_value=1.0`` pads with +1, which the C kernels
run without a border correction.

``BinaryWeightConv2d`` and ``BinaryWeightLinear`` binarize only their weights
and read real-valued inputs: BinaryConnect (Courbariaux et al. 2015) and, with
``scale="xnor"``, XNOR-Net's BWN (Rastegari et al. 2016). They export to
``conv_i8_w1``: INT8 activations times 1-bit weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .input_scale import input_scale
from .sign import Sign, sign_weights

SCALES = (None, "xnor")


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def check_pad_value(pad_value: float) -> float:
    if pad_value not in (0.0, 1.0):
        raise ValueError(f"pad_value={pad_value}: use 0.0 (zero padding) or 1.0 (+1 padding)")
    return float(pad_value)


def pad_bits(xb: torch.Tensor, padding: tuple[int, int],
             pad_value: float) -> tuple[torch.Tensor, tuple[int, int]]:
    """``xb`` padded with ``pad_value`` where F.conv2d's own (zero) padding would be
    wrong, and the padding left for F.conv2d."""
    if pad_value == 0.0 or not any(padding):
        return xb, padding
    ph, pw = padding
    return F.pad(xb, (pw, pw, ph, ph), value=pad_value), (0, 0)


def init_latent(weight: torch.Tensor) -> None:
    fan_in = weight[0].numel()
    nn.init.uniform_(weight, -1.0 / math.sqrt(fan_in), 1.0 / math.sqrt(fan_in))


class _BinaryLayer(nn.Module):
    def _init_common(self, bias: bool, scale: str | None, input_sign: nn.Module | None,
                     out_features: int) -> None:
        if scale not in SCALES:
            raise ValueError(f"scale={scale!r}: choose one of {SCALES}")
        self.scale = scale
        self.input_sign = input_sign
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        init_latent(self.weight)

    def _binarize_input(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.input_sign is None else self.input_sign(x)

    def _binary_weight(self) -> torch.Tensor:
        return sign_weights(self.weight)

    def _epilogue(self, y: torch.Tensor, channel_view: tuple[int, ...]) -> torch.Tensor:
        if self.scale == "xnor":
            dims = tuple(range(1, self.weight.dim()))
            y = y * self.weight.abs().mean(dim=dims).view(channel_view)
        if self.bias is not None:
            y = y + self.bias.view(channel_view)
        return y


class BinaryConv2d(_BinaryLayer):
    """Conv2d with +-1 inputs and weights; optional XNOR-Net per-channel scale.

    ``input_scaling=True`` is XNOR-Net's input scaling (section 3.2): the output
    is multiplied at each pixel by K, the mean |x| over the input channels
    (before the sign) box-filtered over the conv's window (``nn/input_scale.py``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 pad_value: float = 0.0, bias: bool = False, scale: str | None = None,
                 input_sign: nn.Module | None = Sign(),  # noqa: B008 - stateless
                 groups: int = 1, dilation: int | tuple[int, int] = 1,
                 input_scaling: bool = False) -> None:
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        if input_scaling and input_sign is None:
            raise ValueError("input_scaling=True needs the real-valued input: keep input_sign "
                             "(K is computed from the values before the sign)")
        self.input_scaling = bool(input_scaling)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.pad_value = check_pad_value(pad_value)
        self.groups, self.dilation = groups, _pair(dilation)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups,
                                               *self.kernel_size))
        self._init_common(bias, scale, input_sign, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xb, padding = pad_bits(self._binarize_input(x), self.padding, self.pad_value)
        y = F.conv2d(xb, self._binary_weight(), None, self.stride, padding, self.dilation,
                     self.groups)
        if self.input_scaling:
            y = y * input_scale(x, list(self.kernel_size), list(self.stride),
                                list(self.padding), list(self.dilation))
        return self._epilogue(y, (1, -1, 1, 1))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, pad_value={self.pad_value}, "
                f"bias={self.bias is not None}, scale={self.scale!r}, groups={self.groups}, "
                f"dilation={self.dilation}"
                + (", input_scaling=True" if self.input_scaling else ""))


class BinaryLinear(_BinaryLayer):
    """Linear layer with +-1 inputs and weights; optional XNOR-Net scale."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False,
                 scale: str | None = None,
                 input_sign: nn.Module | None = Sign()) -> None:  # noqa: B008 - stateless
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self._init_common(bias, scale, input_sign, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(self._binarize_input(x), self._binary_weight())
        return self._epilogue(y, (1, -1))

    def extra_repr(self) -> str:
        return (f"{self.in_features}, {self.out_features}, bias={self.bias is not None}, "
                f"scale={self.scale!r}")


class _BinaryWeights:
    """BinaryConnect's binarization of the weights: deterministic (the sign) or, in
    training only, stochastic (+1 with probability hard_sigmoid(w) = clip((w + 1) / 2,
    0, 1)); the gradient passes straight through where |w| <= 1. Evaluation and
    export always take the sign."""

    stochastic: bool
    training: bool
    weight: nn.Parameter

    def _binary_weight(self) -> torch.Tensor:
        if not (self.stochastic and self.training):
            return sign_weights(self.weight)
        w = self.weight
        p = torch.clamp((w.detach() + 1.0) / 2.0, 0.0, 1.0)
        wb = torch.where(torch.rand_like(p) < p, 1.0, -1.0).to(w.dtype)
        inside = (w.abs() <= 1.0).to(w.dtype)
        return wb + (w - w.detach()) * inside


class BinaryWeightConv2d(_BinaryWeights, BinaryConv2d):
    """Conv2d with +-1 weights on real-valued inputs (BinaryConnect; XNOR-Net's BWN
    with ``scale="xnor"``), zero padding; ``stochastic=True`` binarizes stochastically
    in training."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 bias: bool = False, scale: str | None = None,
                 stochastic: bool = False) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, 0.0, bias,
                         scale, input_sign=None)
        self.stochastic = bool(stochastic)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, stochastic={self.stochastic}"


class BinaryWeightLinear(_BinaryWeights, BinaryLinear):
    """Linear layer with +-1 weights on real-valued inputs (BinaryConnect, BWN)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False,
                 scale: str | None = None, stochastic: bool = False) -> None:
        super().__init__(in_features, out_features, bias, scale, input_sign=None)
        self.stochastic = bool(stochastic)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, stochastic={self.stochastic}"
