"""Quantization-aware training for the real-valued layers the exporter makes INT8.

The exporter stores every real-valued conv and linear layer with symmetric
per-output-channel INT8 weights (scale = max|w| / 127, after BatchNorm is
folded in). A per-channel BatchNorm scale does not move a weight off that
channel's grid, so fake-quantizing the layer's own weight during training
reproduces the exported weights exactly; the network learns around the
rounding instead of meeting it for the first time in C.

    bnnkit.nn.fake_int8_weights(model)     # before (or late in) training
    bnnkit.save(model, ...)                # bakes the rounded weights in
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import parametrize

from .binary import BinaryConv2d, BinaryLinear


class Int8PerChannel(nn.Module):
    """Weight -> weight rounded to per-output-channel symmetric INT8, gradient straight through."""

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        wmax = w.detach().abs().amax(dim=tuple(range(1, w.dim())), keepdim=True)
        scale = torch.where(wmax > 0, wmax / 127.0, torch.ones_like(wmax))
        q = torch.clamp(torch.round(w / scale), -127, 127) * scale
        return w + (q - w).detach()


def _real_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules()
            if isinstance(m, nn.Conv2d | nn.Linear)
            and not isinstance(m, BinaryConv2d | BinaryLinear)]


def fake_int8_weights(model: nn.Module) -> nn.Module:
    """Fake-quantize the weights of ``model``'s real-valued conv/linear layers, in place."""
    for m in _real_layers(model):
        if not parametrize.is_parametrized(m, "weight"):
            parametrize.register_parametrization(m, "weight", Int8PerChannel())
    return model


def baked(model: nn.Module) -> nn.Module:
    """``model`` itself if nothing is fake-quantized, else a copy holding the rounded
    weights as plain parameters (what ``torch.export`` and the exporter expect)."""
    if not any(parametrize.is_parametrized(m) for m in model.modules()):
        return model
    model = copy.deepcopy(model)
    for m in model.modules():
        if parametrize.is_parametrized(m):
            _unparametrize(m)
    return model


def _unparametrize(m: nn.Module) -> None:
    """Make the copy ``m`` hold its parametrized tensors as plain parameters.
    ``parametrize.remove_parametrizations`` would delete the properties from the class
    ``m`` shares with the original (a deep copy keeps the class), breaking the model
    still in training."""
    values = {name: getattr(m, name).detach().clone() for name in m.parametrizations}
    m.__class__ = type(m).__bases__[0]  # the class parametrize derived the shared one from
    del m.parametrizations
    for name, value in values.items():
        m.register_parameter(name, nn.Parameter(value))
