"""XNOR-Net's input scaling (Rastegari et al. 2016, section 3.2): the K matrix.

For the real-valued input I of a binary convolution (before its sign),
A = mean over the channels of |I| at each pixel, and K = A convolved with a
box filter of the conv's kernel size (every tap 1 / (kh * kw)), with the
conv's stride, padding (A padded with zeros) and dilation: one scale per
output pixel, by which the binary conv's output is multiplied.

A ``torch.library`` custom op, so that ``torch.export`` keeps it as one
``bnnkit.input_scale`` node the exporter recognises. Its gradient is the exact
derivative of that formula: dK/dI = sign(I) / C times the box filter's
transpose, as the paper trains it (its gradients flow through K as well).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _box(x: torch.Tensor, kernel: list[int]) -> torch.Tensor:
    return torch.full((1, 1, *kernel), 1.0 / (kernel[0] * kernel[1]), dtype=x.dtype,
                      device=x.device)


@torch.library.custom_op("bnnkit::input_scale", mutates_args=())
def input_scale(x: torch.Tensor, kernel: list[int], stride: list[int], padding: list[int],
                dilation: list[int]) -> torch.Tensor:
    """K of shape (N, 1, OH, OW): the box-filtered mean |x| over channels."""
    a = x.abs().mean(dim=1, keepdim=True)
    return F.conv2d(a, _box(x, kernel), None, stride, padding, dilation)


@input_scale.register_fake
def _input_scale_fake(x: torch.Tensor, kernel: list[int], stride: list[int],
                      padding: list[int], dilation: list[int]) -> torch.Tensor:
    h, w = (
        (size + 2 * p - d * (k - 1) - 1) // s + 1
        for size, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation, strict=True))
    return x.new_empty((x.shape[0], 1, h, w))


def _setup(ctx, inputs, output) -> None:  # noqa: ANN001 - torch callback
    x, ctx.kernel, ctx.stride, ctx.padding, ctx.dilation = inputs
    ctx.save_for_backward(x)


def _backward(ctx, grad_k: torch.Tensor):  # noqa: ANN001, ANN202
    (x,) = ctx.saved_tensors
    grad_a = torch.nn.grad.conv2d_input((x.shape[0], 1, *x.shape[2:]), _box(x, ctx.kernel),
                                        grad_k, ctx.stride, ctx.padding, ctx.dilation)
    return grad_a * torch.sign(x) / x.shape[1], None, None, None, None


input_scale.register_autograd(_backward, setup_context=_setup)
