"""PyTorch eval vs golden on models with INT8 layers and real-valued paths.

INT8 rounding moves values by up to half a step per layer, so binary
activations read from INT8 tensors may flip where the float value sits within
quantization error of a threshold, and in these untrained models (random
weights and BatchNorm statistics) every flip spreads through the layers after
it. The bounds here catch lowering bugs (a wrong sign or layout flips about
half the bits); agreement on a trained model is test_training.py's job.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bnnkit.nn import BinaryConv2d

from . import models
from .compare import export_and_compare

BITS_FLIP_RATE = 0.12  # INT8 rounding near thresholds, amplified by later layers
INT8_MEDIAN_LSB = 8.0  # per tensor vs PyTorch, flipped input bits included


def check(model: nn.Module, x: torch.Tensor) -> None:
    report = export_and_compare(model, x, n_cal=len(x) // 2)
    for name, rate in report.bits_mismatch.items():
        assert rate <= BITS_FLIP_RATE, f"{name}: {rate:.2%} of bits differ"
    # The last layer of a random model sums many int8-rounded weights into a
    # narrow output range, so its error says little; the layers before it do.
    output = list(report.int8_error)[-1:]
    for name, err in report.int8_error.items():
        if name not in output:
            assert np.median(err) <= INT8_MEDIAN_LSB, f"{name}: median {np.median(err):.2f} LSB"


def test_classic_stack_with_int8_stem() -> None:
    torch.manual_seed(0)
    check(models.randomize_batchnorm(models.classic(width=65), zero=True),
          torch.randn(160, 3, 12, 10))


@pytest.mark.parametrize("pad_value", [0.0, 1.0])
def test_bireal_blocks_with_int8_shortcuts_and_strided_downsample(pad_value: float) -> None:
    torch.manual_seed(1)
    check(models.randomize_batchnorm(models.bireal(pad_value=pad_value), negative=True),
          torch.randn(160, 3, 16, 16))


def test_densenet_concat_on_bits_and_int8() -> None:
    torch.manual_seed(2)
    check(models.randomize_batchnorm(models.dense(), zero=True), torch.randn(160, 3, 9, 11))


def test_depthwise_relu6_hardtanh_avgpool_leaky() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU6(),
        nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.BatchNorm2d(16), nn.Hardtanh(),
        BinaryConv2d(16, 24, 3, padding=1, pad_value=1.0), nn.BatchNorm2d(24),
        nn.LeakyReLU(0.1), nn.AvgPool2d(2, padding=1, count_include_pad=False),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 5))
    check(models.randomize_batchnorm(model), torch.randn(160, 3, 15, 13))


def test_vector_input_mlp() -> None:
    torch.manual_seed(4)
    from bnnkit.nn import BinaryLinear
    model = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), BinaryLinear(64, 65),
                          nn.BatchNorm1d(65), BinaryLinear(65, 4), nn.BatchNorm1d(4))
    check(models.randomize_batchnorm(model), torch.randn(200, 20))


def test_maxpool_then_negative_batchnorm_on_int8() -> None:
    torch.manual_seed(5)
    model = models.randomize_batchnorm(models.pool_then_negative_batchnorm(), negative=True)
    assert any(m.weight.min() < 0 for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    check(model, torch.randn(160, 3, 9, 8))


def test_keras_same_padding_and_ceil_mode_pools() -> None:
    """larq zoo ports: an F.pad padding bottom and right more before a conv and before
    pools, ceil_mode max and average pools whose last window runs past the input."""
    torch.manual_seed(6)
    model = nn.Sequential(
        nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(3, 8, 3, stride=2), nn.BatchNorm2d(8), nn.ReLU(),
        nn.ZeroPad2d((0, 1, 0, 1)), nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.AvgPool2d(3, 2, ceil_mode=True, count_include_pad=False),
        nn.ZeroPad2d((0, 1, 1, 0)), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(8 * 2 * 2, 5))
    check(models.randomize_batchnorm(model), torch.randn(160, 3, 21, 25))
