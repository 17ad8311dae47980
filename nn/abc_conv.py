"""ABC-Net's convolution (Lin et al., "Towards Accurate Binary Convolutional Neural
Network", NeurIPS 2017): M binary weight bases and N binary activation bases.

    B_m = sign(W - mean(W) + u_m std(W))     u_m spread over [-1, 1], fixed
    A_n = sign(x + v_n)                      v_n learned shifts (the paper's H_v)
    y   = sum_m sum_n alpha_m beta_n conv(A_n, B_m)

``alpha_m`` start at the least-squares fit of ``W`` by the bases and are trained
from there, like ``beta_n`` and ``v_n`` (one scalar each per layer, as in the
paper). The forward computes the M x N binary convolutions one by one, so the
exported graph holds exactly them: N thresholds (one per shift), M x N binary
convs with their ``alpha_m beta_n`` in the output stage, and their sum.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .binary import _pair, check_pad_value, init_latent, pad_bits
from .sign import Sign, sign_weights


def _spread(count: int) -> torch.Tensor:
    """``count`` values evenly over [-1, 1] (0 for one)."""
    return torch.linspace(-1.0, 1.0, count) if count > 1 else torch.zeros(1)


class ABCConv2d(nn.Module):
    """Conv2d as ``weight_bases`` x ``activation_bases`` binary convolutions."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 pad_value: float = 0.0, weight_bases: int = 3, activation_bases: int = 3,
                 input_sign: nn.Module = Sign()) -> None:  # noqa: B008 - stateless
        super().__init__()
        if weight_bases < 1 or activation_bases < 1:
            raise ValueError(f"weight_bases={weight_bases}, activation_bases={activation_bases}:"
                             f" ABC-Net needs at least one base of each")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.pad_value = check_pad_value(pad_value)
        self.input_sign = input_sign
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *self.kernel_size))
        init_latent(self.weight)
        self.register_buffer("weight_offsets", _spread(weight_bases))
        self.alpha = nn.Parameter(self._fit_alpha())
        self.shifts = nn.Parameter(_spread(activation_bases) * 0.5)
        self.beta = nn.Parameter(torch.full((activation_bases,), 1.0 / activation_bases))

    def weight_bases(self) -> torch.Tensor:
        """(M, O, I, KH, KW): the +-1 weight bases."""
        w = self.weight
        centered = w - w.mean()
        std = w.std()
        return torch.stack([sign_weights(centered + u * std) for u in self.weight_offsets])

    def _fit_alpha(self) -> torch.Tensor:
        """Least squares: alpha = argmin |W - sum alpha_m B_m|^2 (the paper's init)."""
        with torch.no_grad():  # the normal equations: M x M, where lstsq would factor W
            bases = self.weight_bases().reshape(len(self.weight_offsets), -1)
            gram = bases @ bases.T
            # equal bases (a constant W) leave gram singular: a ridge keeps it solvable
            gram += 1e-6 * bases.shape[1] * torch.eye(len(bases))
            return torch.linalg.solve(gram, bases @ self.weight.reshape(-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bases = self.weight_bases()
        y: torch.Tensor | None = None
        for beta, shift in zip(self.beta, self.shifts, strict=True):
            a, padding = pad_bits(self.input_sign(x + shift), self.padding, self.pad_value)
            for alpha, b in zip(self.alpha, bases, strict=True):
                term = F.conv2d(a, b, None, self.stride, padding) * (alpha * beta)
                y = term if y is None else y + term
        assert y is not None
        return y

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, pad_value={self.pad_value}, "
                f"weight_bases={len(self.alpha)}, activation_bases={len(self.beta)}")
