"""The binarizing sign and its gradients.

Forward: sign(x) = +1 if x >= 0 else -1 (sign(0) = +1, the convention of the
whole pipeline: bit 0 means +1).

Backward, selectable per layer:

* ``"ste"``: straight-through estimator with hard-tanh clipping, the gradient
  passes where ``|x| <= clip``. BMXNet2's ablation found clip values of 1.2 to
  1.3 to train better than the classic 1.0, so the default is 1.25.
* ``"approx"``: Bi-Real Net's ApproxSign, the derivative of a piecewise
  quadratic that approximates sign on ``[-clip, clip]``.

The op is a ``torch.library`` custom op so that ``torch.export`` keeps it as a
single ``bnnkit.sign`` node the exporter can recognise.
"""

from __future__ import annotations

import torch
from torch import nn

DEFAULT_CLIP = 1.25
GRADIENTS = ("ste", "approx")


@torch.library.custom_op("bnnkit::sign", mutates_args=())
def sign(x: torch.Tensor, clip: float, grad: str) -> torch.Tensor:
    """Binarize to +-1 with sign(0) = +1; ``clip``/``grad`` shape the backward."""
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


@sign.register_fake
def _sign_fake(x: torch.Tensor, clip: float, grad: str) -> torch.Tensor:
    return torch.empty_like(x)


def _sign_setup(ctx, inputs, output) -> None:  # noqa: ANN001 - torch callback
    x, clip, grad = inputs
    ctx.save_for_backward(x)
    ctx.clip = clip
    ctx.grad = grad


def _sign_backward(ctx, grad_out: torch.Tensor):  # noqa: ANN001, ANN202
    (x,) = ctx.saved_tensors
    inside = x.abs() <= ctx.clip
    if ctx.grad == "approx":
        # d/dx of the ApproxSign polynomial, scaled to the clip range.
        slope = (2.0 / ctx.clip) * (1.0 - x.abs() / ctx.clip)
        return grad_out * slope * inside, None, None
    return grad_out * inside, None, None


sign.register_autograd(_sign_backward, setup_context=_sign_setup)


class Sign(nn.Module):
    """Binary activation: +-1 forward, STE or ApproxSign backward."""

    def __init__(self, clip: float = DEFAULT_CLIP, grad: str = "ste") -> None:
        super().__init__()
        if grad not in GRADIENTS:
            raise ValueError(f"Sign(grad={grad!r}): choose one of {GRADIENTS}")
        if not clip > 0:
            raise ValueError(f"Sign(clip={clip}): the clip must be positive")
        self.clip = float(clip)
        self.grad = grad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sign(x, self.clip, self.grad)

    def extra_repr(self) -> str:
        return f"clip={self.clip}, grad={self.grad!r}"


def sign_weights(w: torch.Tensor) -> torch.Tensor:
    """Binarize latent weights; the STE clip of 1 keeps them from drifting."""
    return sign(w, 1.0, "ste")
