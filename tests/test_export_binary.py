"""PyTorch eval vs golden on binary paths whose input is exactly +-1.

With +-1 inputs nothing is rounded before the first sign, so every binary
activation must match PyTorch except at float ties (a pre-sign value within
float rounding of 0), and the int8 head must be within 1 LSB.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from bnnkit.nn import BinaryConv2d, BinaryLinear

from .compare import export_and_compare
from .models import randomize_batchnorm

TIE_RATE = 1e-4  # float-rounding ties; a real folding bug flips far more


def binary_stack(cin: int, width: int, kernel: int, stride: int, padding: int,
                 pad_value: float, scale: str | None, hw: tuple[int, int],
                 pool_before_bn: bool) -> nn.Sequential:
    """Binary convs on a +-1 input; optional conv -> maxpool -> BN -> sign."""
    h, w = hw
    oh = (h + 2 * padding - kernel) // stride + 1
    ow = (w + 2 * padding - kernel) // stride + 1
    layers: list[nn.Module] = [
        BinaryConv2d(cin, width, kernel, stride, padding, pad_value, scale=scale),
        nn.BatchNorm2d(width),
    ]
    if pool_before_bn and oh >= 2 and ow >= 2:
        layers += [BinaryConv2d(width, width, 3, 1, 1, pad_value, scale=scale),
                   nn.MaxPool2d(2), nn.BatchNorm2d(width)]
        oh, ow = oh // 2, ow // 2
    layers += [nn.Flatten(), BinaryLinear(width * oh * ow, 7, scale=scale), nn.BatchNorm1d(7)]
    return nn.Sequential(*layers)


def pm1(n: int, c: int, h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (n, c, h, w), generator=g).float() * 2 - 1


def check(model: nn.Module, x: torch.Tensor) -> None:
    report = export_and_compare(model, x, n_cal=32)
    assert report.bits_mismatch, "no binary tensor was compared"
    for name, rate in report.bits_mismatch.items():
        assert rate <= TIE_RATE, f"{name}: {rate:.2%} of bits differ from PyTorch"
    assert (report.output_lsb <= 1.0 + 1e-6).mean() >= 0.999, (
        f"output off by up to {report.output_lsb.max():.2f} LSB")


@pytest.mark.parametrize("width", [1, 3, 63, 64, 65, 130])
def test_channel_counts(width: int) -> None:
    torch.manual_seed(width)
    model = randomize_batchnorm(binary_stack(5, width, 3, 1, 1, 1.0, None, (9, 7), True),
                                seed=width, zero=True)
    check(model, pm1(96, 5, 9, 7, width))


@pytest.mark.parametrize("kernel,stride,padding,pad_value", [
    (1, 1, 0, 0.0), (3, 1, 1, 0.0), (3, 2, 1, 0.0), (3, 2, 1, 1.0), (5, 1, 2, 0.0),
    (5, 2, 2, 1.0), (3, 1, 0, 0.0), (5, 2, 1, 1.0),
])
def test_kernels_strides_padding(kernel: int, stride: int, padding: int,
                                 pad_value: float) -> None:
    torch.manual_seed(kernel * 10 + stride)
    model = randomize_batchnorm(
        binary_stack(70, 40, kernel, stride, padding, pad_value, None, (11, 8), True), seed=3)
    check(model, pm1(96, 70, 11, 8, kernel))


@pytest.mark.parametrize("scale", [None, "xnor"])
def test_xnor_scale_and_zero_gamma(scale: str | None) -> None:
    torch.manual_seed(1)
    model = randomize_batchnorm(binary_stack(64, 33, 3, 1, 1, 0.0, scale, (6, 10), True),
                                seed=5, zero=True)
    check(model, pm1(96, 64, 6, 10, 2))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cin=st.integers(1, 140), width=st.integers(1, 140), kernel=st.sampled_from([1, 3, 5]),
       stride=st.sampled_from([1, 2]), padding=st.integers(0, 2),
       pad_value=st.sampled_from([0.0, 1.0]), scale=st.sampled_from([None, "xnor"]),
       h=st.integers(5, 12), w=st.integers(5, 12), pool=st.booleans(), seed=st.integers(0, 99))
def test_random_binary_models(cin: int, width: int, kernel: int, stride: int, padding: int,
                              pad_value: float, scale: str | None, h: int, w: int,
                              pool: bool, seed: int) -> None:
    torch.manual_seed(seed)
    model = randomize_batchnorm(
        binary_stack(cin, width, kernel, stride, padding, pad_value, scale, (h, w), pool),
        seed=seed)
    check(model, pm1(64, cin, h, w, seed))


@pytest.mark.parametrize("cin,width,groups,dilation,pad_value", [
    (66, 33, 3, 2, 1.0), (65, 40, 1, (2, 3), 0.0), (130, 20, 5, 3, 0.0),
])
def test_grouped_and_dilated(cin: int, width: int, groups: int, dilation: int | tuple,
                             pad_value: float) -> None:
    """Groups of channels that start inside a word, dilation with either padding."""
    torch.manual_seed(groups)
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    h, w = 11, 9
    model = randomize_batchnorm(nn.Sequential(
        BinaryConv2d(cin, width, 3, 1, (dh, dw), pad_value, groups=groups, dilation=dilation),
        nn.BatchNorm2d(width), nn.Flatten(), BinaryLinear(width * h * w, 7),
        nn.BatchNorm1d(7)), seed=groups)
    check(model, pm1(96, cin, h, w, groups))
