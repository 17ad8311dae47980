"""Training layers: forward semantics and gradients."""

from __future__ import annotations

import torch

from bnnkit.nn import BinaryConv2d, BinaryLinear, Sign


def test_sign_forward_and_ste_gradient() -> None:
    x = torch.tensor([-2.0, -1.25, -0.5, 0.0, 0.5, 1.3], requires_grad=True)
    y = Sign(clip=1.25)(x)
    assert y.tolist() == [-1, -1, -1, 1, 1, 1]
    y.sum().backward()
    assert x.grad.tolist() == [0, 1, 1, 1, 1, 0]


def test_approx_sign_gradient_is_bireal_polynomial() -> None:
    x = torch.tensor([-1.5, -0.5, 0.0, 0.5], requires_grad=True)
    Sign(clip=1.0, grad="approx")(x).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([0.0, 1.0, 2.0, 1.0]))


def test_binary_conv_pad_value_and_xnor_scale() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 4, 5, 5)
    conv = BinaryConv2d(4, 3, 3, padding=1, pad_value=1.0, scale="xnor")
    xb = torch.where(x >= 0, 1.0, -1.0)
    wb = torch.where(conv.weight >= 0, 1.0, -1.0)
    ref = torch.nn.functional.conv2d(torch.nn.functional.pad(xb, (1, 1, 1, 1), value=1.0), wb)
    alpha = conv.weight.abs().mean(dim=(1, 2, 3)).view(1, -1, 1, 1)
    assert torch.allclose(conv(x), ref * alpha)


def test_binary_layers_train() -> None:
    torch.manual_seed(0)
    lin = BinaryLinear(8, 2, bias=True)
    x = torch.randn(16, 8)
    lin(x).pow(2).sum().backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0
