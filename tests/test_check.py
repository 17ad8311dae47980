"""``bnnkit.check`` before training, and the registry of supported ops."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import bnnkit
from bnnkit.errors import UnsupportedModelError
from bnnkit.export import frontend
from bnnkit.nn import BinaryConv2d, BinaryLinear, Sign

X = torch.zeros(1, 1, 12, 12)


def test_a_good_untrained_model_passes() -> None:
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8),
                          BinaryConv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16),
                          nn.MaxPool2d(2), nn.Flatten(), BinaryLinear(16 * 36, 4))
    assert bnnkit.check(model, X) is None


def test_every_refused_op_is_named_with_an_alternative() -> None:
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.GELU(), nn.SiLU(),
                          nn.Upsample(scale_factor=2), nn.Conv2d(8, 2, 1), nn.Sigmoid())
    with pytest.raises(UnsupportedModelError) as e:
        bnnkit.check(model, X)
    text = str(e.value)
    assert text.startswith("4 ops will not export: gelu at 1 (GELU) (instead use ReLU")
    for op, module in (("silu", "SiLU"), ("upsample_nearest2d", "Upsample"),
                       ("sigmoid", "Sigmoid")):
        assert f"{op} at" in text and f"({module}) (instead use " in text, op
    assert "Supported: Conv2d" in text


def test_patterns_the_lowering_refuses_are_found_too() -> None:
    model = nn.Sequential(BinaryConv2d(1, 8, 3), nn.BatchNorm2d(8), Sign(), nn.Conv2d(8, 4, 3))
    with pytest.raises(UnsupportedModelError, match="real-valued convolution reads binary"):
        bnnkit.check(model, X)


def test_export_names_the_alternative() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Tanh())
    with pytest.raises(UnsupportedModelError, match=r"tanh\.default is not supported at 1 "
                                                    r"\(Tanh\); instead use Hardtanh\."):
        bnnkit.export(model, X)


def test_registry_covers_every_handler() -> None:
    listed = [op for ops in frontend.SUPPORTED_OPS.values() for op in ops]
    assert len(listed) == len(set(listed))
    assert set(listed) | set(frontend.PLUMBING) == set(frontend.HANDLERS)


def test_public_api() -> None:
    assert dir(bnnkit) == sorted(bnnkit.__all__)
    for name in bnnkit.__all__:
        assert getattr(bnnkit, name) is not None, name
