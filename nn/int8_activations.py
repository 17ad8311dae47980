"""Quantization-aware training of the activations the exporter rounds to INT8.

The export stores every real-valued activation (the stem's output, MeliusNet's
concatenated stream, XNOR-Net's x for K, an int8 output stage, the input) as
int8: one scale and zero point per tensor from the range calibration saw
(``export/passes/quantize.py``), the channels ``equalize`` widened by a power of
two. Signs and K then read the rounded values, so a sign of a value near zero
can differ from PyTorch's. ``fake_int8(model, calibration)`` runs those export
passes on the model and makes PyTorch round each such tensor that is a module's
output (or the model's input) to the same grid, with a straight-through
gradient inside the range. The ``bnnkit.fake_int8`` op it adds carries the
range, and the export takes that range instead of calibrating again (and
refuses the model if its grids no longer come out), so the model trained is
the model exported:

    bnnkit.nn.fake_int8(model, x_train[:256])  # partway through training; train on
    bnnkit.save(model, ...)                    # exported on the grids it trained on

Call it again to recalibrate; a model rounds to the grids of its last call.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from .int8 import fake_int8_weights


def _per_channel(step: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return step.view(1, -1, *([1] * (x.dim() - 2))) if x.dim() > 1 else step


@torch.library.custom_op("bnnkit::fake_int8", mutates_args=())
def fake_int8_op(x: torch.Tensor, step: torch.Tensor, zero: int, lo: float, hi: float,
                 half_even: bool, rescale: torch.Tensor | None = None) -> torch.Tensor:
    """``x`` on the int8 grid ``Z + round(x / step)`` (float64 step per channel, dim 1),
    clamped to [-128, 127]; ``lo``/``hi`` is the calibrated range the export derives it
    from. Halves round away from zero as the C's output stages do, or to even as the
    input is quantized (``half_even``). ``rescale`` (3, C): ``x`` already lies on the
    grids (steps) of row 0, and the C moves it to this one with the fixed-point
    multiplier and shift of rows 1 and 2 (``concat_i8``), rounding twice; done here
    with the golden model's arithmetic."""
    codes = (_codes(x, step, zero, half_even) if rescale is None
             else _rescaled(x, rescale, zero))
    return ((codes.clamp(-128, 127) - zero) * _per_channel(step, x)).to(x.dtype)


def _codes(x: torch.Tensor, step: torch.Tensor, zero: int, half_even: bool = True
           ) -> torch.Tensor:
    """Z + round(x / step) in float64, as the golden model quantizes: in float32 the
    many inputs that land on a half step (digits' k/16 on a 1/255 grid) round the other
    way, and so do a binary conv's integer outputs on a grid of n/255 steps rounded to
    even."""
    v = x.double() / _per_channel(step, x)
    return (torch.round(v) if half_even else torch.sign(v) * torch.floor(v.abs() + 0.5)) + zero


def _rescaled(x: torch.Tensor, rescale: torch.Tensor, zero: int) -> torch.Tensor:
    from ..golden.quant import requantize

    step, mult, shift = (_per_channel(r, x) for r in rescale)
    centered = _codes(x, step, 0).to(torch.int64)  # q - Z of the input x came from
    q = requantize(centered.cpu().numpy(), mult.to(torch.int64).cpu().numpy(),
                   shift.to(torch.int64).cpu().numpy(), zero)
    return torch.from_numpy(q.astype(np.float64)).to(x.device)


@fake_int8_op.register_fake
def _fake(x: torch.Tensor, step: torch.Tensor, zero: int, lo: float, hi: float,
          half_even: bool, rescale: torch.Tensor | None = None) -> torch.Tensor:
    return torch.empty_like(x)


def _setup(ctx, inputs, output) -> None:  # noqa: ANN001 - torch callback
    x, step, zero = inputs[:3]
    s = _per_channel(step, x).to(x.dtype)  # inside: the codes -128 - 1/2 .. 127 + 1/2
    ctx.save_for_backward((x >= (-128.5 - zero) * s) & (x < (127.5 - zero) * s))


def _backward(ctx, grad: torch.Tensor):  # noqa: ANN001, ANN202
    (inside,) = ctx.saved_tensors  # straight through, nothing where the grid clamps
    return grad * inside, None, None, None, None, None, None


fake_int8_op.register_autograd(_backward, setup_context=_setup)


class FakeInt8(nn.Module):
    """One int8 grid of the export, applied to a module's output (or the model's input)
    by forward hooks."""

    def __init__(self, step: np.ndarray, zero: int, lo: float, hi: float,
                 half_even: bool = False, rescale: np.ndarray | None = None) -> None:
        super().__init__()
        self.register_buffer("step", torch.from_numpy(np.asarray(step, np.float64)))
        self.register_buffer("rescale", None if rescale is None else
                             torch.from_numpy(np.asarray(rescale, np.float64)))
        self.zero, self.lo, self.hi = int(zero), float(lo), float(hi)
        self.half_even = half_even  # the input's rounding; every int8 op's is half away

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fake_int8_op(x, self.step, self.zero, self.lo, self.hi, self.half_even,
                            self.rescale)

    def output_hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
        return self(output)

    def input_hook(self, module: nn.Module, args: tuple) -> tuple:
        return (self(args[0]), *args[1:])

    def extra_repr(self) -> str:
        return f"zero={self.zero}, range=[{self.lo:.4g}, {self.hi:.4g}]"


def _remove(model: nn.Module) -> None:
    """Drop the hooks of an earlier ``fake_int8`` call (found by owner, so a deep copy
    of the model loses its own)."""
    for m in model.modules():
        for hooks in (m._forward_hooks, m._forward_pre_hooks):
            for key in [k for k, h in hooks.items()
                        if isinstance(getattr(h, "__self__", None), FakeInt8)]:
                del hooks[key]


def _stack(node: torch.fx.Node) -> list[str]:
    return [path for path, _ in (node.meta.get("nn_module_stack") or {}).values()]


def _returning_module(node: torch.fx.Node) -> str | None:
    """The innermost module whose forward returns ``node``'s value: the innermost one
    it leaves (read outside it, or the program's output); None if it never leaves
    the module computing it."""
    for path in reversed(_stack(node)):
        if any(u.op == "output" or path not in _stack(u) for u in node.users):
            return path
    return None


def _concat_rescale(graph: Any, name: str, grids: dict[str, tuple[np.ndarray, int]]
                    ) -> np.ndarray | None:
    """``fake_int8_op``'s ``rescale`` for a ``concat_i8`` output: per channel, the grid
    of the input it comes from and the rescale's multiplier and shift; else None."""
    node = graph.producer(name)
    if node is None or node.op != "concat_i8":
        return None
    cols = [np.stack([grids[i][0], np.full(len(grids[i][0]), m), np.full(len(grids[i][0]), s)])
            for i, (m, s) in zip(node.inputs, node.attrs["rescale"], strict=True)]
    return np.concatenate(cols, axis=1)


def fake_int8(model: nn.Module, calibration: torch.Tensor) -> nn.Module:
    """Round ``model``'s activations in PyTorch as its export will store them, in place.

    ``calibration``: typical inputs (the ones to export with), calibrated on now with the
    export's own passes. Every int8 tensor of the export that is a module's output or
    the model's input gets its grid; any other (inside a module's forward) is named in
    a warning and stays unrounded in PyTorch. Models with a declared input
    normalization (uint8 pixels) are not covered.
    """
    from ..export.frontend import from_exported
    from ..export.grids import int8_grids
    from ..export.modelfile import _trace
    from ..export.passes import calibrate
    from ..export.pipeline import lower, simplify

    fake_int8_weights(model)  # the weights too, or the rounding points drift from C's
    _remove(model)
    samples = torch.as_tensor(calibration).detach().float()
    program = _trace(model, samples[:1])
    calibrated = calibrate(simplify(from_exported(program)), samples.cpu().numpy())
    graph = lower(calibrated)
    ranges, twins = calibrated.meta["ranges"], graph.meta.get("torch_names", {})
    nodes = {n.name: n for n in program.graph.nodes}
    unreached = []
    grids = int8_grids(graph)
    for name, (step, zero) in grids.items():
        point = FakeInt8(step, zero, *ranges[name], name == graph.inputs[0],
                         _concat_rescale(graph, name, grids))
        node = nodes.get(twins.get(name, name))
        if name == graph.inputs[0]:
            model.register_forward_pre_hook(point.input_hook)
        elif node is not None and (path := _returning_module(node)) is not None:
            model.get_submodule(path).register_forward_hook(point.output_hook)
        else:
            unreached.append(name)
    if unreached:
        warnings.warn(f"fake_int8: {len(unreached)} int8 tensors of the export are computed "
                      f"inside a module's forward, so PyTorch does not round them: "
                      f"{', '.join(unreached)}", stacklevel=2)
    return model
