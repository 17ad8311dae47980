"""Classification pieces of the demo trainers: the loss and accuracy."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..training import BatchLoss, Recipe, predict

Augment = Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((predict(model, x).argmax(1) == y).float().mean())


def test_accuracy(x: torch.Tensor, y: torch.Tensor) -> Callable[[nn.Module], dict]:
    return lambda model: {"test_acc": accuracy(model, x, y)}


def classification_loss(recipe: Recipe, x: torch.Tensor, y: torch.Tensor, augment: Augment,
                        teacher_logits: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                        | None = None) -> BatchLoss:
    """Cross-entropy with label smoothing on augmented ``x[idx]``, plus (when
    ``recipe.kd_alpha > 0``) distillation towards ``teacher_logits(idx, flip)``."""
    ce = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    t_kd = recipe.kd_temperature

    def loss(model: nn.Module, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        xb, flip = augment(x[idx], gen)
        out = model(xb)
        value = ce(out, y[idx])
        if recipe.kd_alpha > 0 and teacher_logits is not None:
            t = teacher_logits(idx, flip)
            kd = nn.functional.kl_div(torch.log_softmax(out / t_kd, 1),
                                      torch.softmax(t / t_kd, 1),
                                      reduction="batchmean") * t_kd * t_kd
            value = (1 - recipe.kd_alpha) * value + recipe.kd_alpha * kd
        return value

    return loss
