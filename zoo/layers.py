"""Building blocks shared by the zoo's networks."""

from __future__ import annotations

import torch
from torch import nn

from ..nn import TernaryConv2d, TernaryLinear


class Shift(nn.Module):
    """A learnable per-channel offset (ReActNet's LearnableBias, the shifts of RSign and
    RPReLU); the exporter folds it like a BatchNorm's bias."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias.view(1, -1, 1, 1)


def rprelu(channels: int) -> nn.Sequential:
    """ReActNet's RPReLU: shift, per-channel PReLU, shift."""
    return nn.Sequential(Shift(channels), nn.PReLU(channels), Shift(channels))


def randomize(model: nn.Module, seed: int) -> nn.Module:
    """Trained-looking statistics for a speed workload: BatchNorm means, variances and
    affines, PReLU slopes and shifts, TTQ's Wp and Wn drawn from a fixed seed (eval
    mode)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 2)
                m.running_var.copy_(torch.rand(c, generator=g) * 20 + 5)
                if m.affine and m.weight.requires_grad:  # not a scale=False BatchNorm
                    m.weight.copy_(torch.rand(c, generator=g) * 1.5 + 0.25)
                if m.affine:
                    m.bias.copy_(torch.randn(c, generator=g) * 0.2)
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.3)
            elif isinstance(m, Shift):
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, TernaryConv2d | TernaryLinear):  # at the weights' scale
                scale = m.weight.abs().mean()
                m.wp.copy_(scale * (torch.rand((), generator=g) + 0.5))
                m.wn.copy_(scale * (torch.rand((), generator=g) + 0.5))
    return model.eval()
