"""The PyTorch side of the comparison: the same model, fp32, 1 thread.

Two variants, both exact in fp32 (+-1 products of small integer counts):

* ``eager``: the bnnkit.nn model as trained, in eval mode (its sign is a
  ``torch.library`` custom op and its weights are binarized on every call);
* ``fp32``: the same network written as plain PyTorch fp32 ops: weights
  binarized once, sign as ``torch.where``, zero padding as the conv's own,
  +1 padding as the zero-padded conv plus a constant border map (no padded
  copy): the strongest fair fp32 eager baseline, and the headline comparison.

Both run with ``channels_last`` and ``torch.inference_mode``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..nn import BinaryConv2d, BinaryLinear


def _sign(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


class _PlainBinary(nn.Module):
    """A bnnkit binary layer in plain fp32 ops, weights binarized once."""

    def __init__(self, layer: BinaryConv2d | BinaryLinear) -> None:
        super().__init__()
        self.layer = layer
        self.register_buffer("w", _sign(layer.weight.detach()))

    def _input_bits(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.layer.input_sign is None else _sign(x)


class PlainBinaryConv2d(_PlainBinary):
    """+1 padding without a padded copy of the input: the conv is linear, so
    conv(pad(x, +1)) = conv(pad(x, 0)) + conv(pad(0, +1)). The second term is
    a constant map, non-zero only in the border rows and columns, computed
    once per input shape; the first is the conv with its own zero padding.
    Exact in fp32 (small integers), and faster than F.pad + conv in
    PyTorch 2.13 on x86 (oneDNN runs the padded conv slower than the
    unpadded copy costs)."""

    def __init__(self, layer: BinaryConv2d) -> None:
        super().__init__(layer)
        self._border: torch.Tensor | None = None
        self._border_shape: tuple[int, ...] = ()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, xb = self.layer, self._input_bits(x)
        y = F.conv2d(xb, self.w, None, b.stride, b.padding)
        if b.pad_value != 0.0 and any(b.padding):
            y = y.add_(self._border_map(xb))
        return b._epilogue(y, (1, -1, 1, 1))

    def _border_map(self, xb: torch.Tensor) -> torch.Tensor:
        """What the +1 padded taps add to each output (batch 1, broadcast)."""
        shape = (1, *xb.shape[1:])
        if self._border is None or self._border_shape != shape:
            b = self.layer
            ph, pw = b.padding
            ones = F.pad(torch.zeros(shape, dtype=xb.dtype), (pw, pw, ph, ph), value=b.pad_value)
            layout = (torch.channels_last if xb.is_contiguous(memory_format=torch.channels_last)
                      else torch.contiguous_format)
            self._border = F.conv2d(ones, self.w, None, b.stride).contiguous(memory_format=layout)
            self._border_shape = shape
        return self._border


class PlainBinaryLinear(_PlainBinary):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer._epilogue(F.linear(self._input_bits(x), self.w), (1, -1))


def plain_fp32(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with bnnkit.nn binary layers as plain fp32 ops."""
    model = copy.deepcopy(model).eval()

    def swap(parent: nn.Module) -> None:
        for name, child in parent.named_children():
            if isinstance(child, BinaryConv2d):
                setattr(parent, name, PlainBinaryConv2d(child))
            elif isinstance(child, BinaryLinear):
                setattr(parent, name, PlainBinaryLinear(child))
            else:
                swap(child)

    swap(model)
    return model


def _eval(model: nn.Module) -> nn.Module:
    """Eval mode; a torch.export module is already traced in eval mode (and refuses eval())."""
    try:
        return model.eval()
    except NotImplementedError:
        return model


def timing_input(input_shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """The input every side of the host comparison runs on."""
    return torch.randn(*input_shape, generator=torch.Generator().manual_seed(seed))


def torch_callables(model: nn.Module, input_shape: tuple[int, ...], *,
                    plain: bool = True, seed: int = 0) -> dict[str, Callable[[], object]]:
    """Zero-argument closures running one inference per call, 1 thread."""
    torch.set_num_threads(1)
    x = timing_input(input_shape, seed)
    channels_last = len(input_shape) == 4
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    variants = {"eager": _eval(model)}
    if plain:
        variants["fp32"] = plain_fp32(model)
    fns = {}
    for key, m in variants.items():
        if channels_last:
            m = m.to(memory_format=torch.channels_last)

        def run(m: nn.Module = m) -> object:
            with torch.inference_mode():
                return m(x)

        fns[key] = run
    if plain:  # the rewrite must compute the same function
        with torch.inference_mode():
            a, b = fns["eager"](), fns["fp32"]()
        if not torch.allclose(a, b, rtol=1e-4, atol=1e-4):
            raise AssertionError("plain fp32 rewrite differs from the bnnkit.nn model")
    return fns
