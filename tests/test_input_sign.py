"""A real-valued input read straight by a binary layer: its signs are exact.

sign(x) = +1 iff x >= 0 on the float input, as in training. Rounding the
input to int8 first turned [-S/2, 0) into +1 (0.3-0.6% of the elements).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import bnnkit
from bnnkit import golden
from bnnkit.nn import BinaryConv2d, BinaryLinear

from .compare import compare, torch_trace
from .models import randomize_batchnorm


def binary_first(cin: int = 3) -> nn.Sequential:
    torch.manual_seed(3)
    return randomize_batchnorm(nn.Sequential(
        BinaryConv2d(cin, 24, 3, padding=1, pad_value=1.0), nn.BatchNorm2d(24),
        BinaryConv2d(24, 24, 3, stride=2, padding=1), nn.BatchNorm2d(24),
        nn.Flatten(), BinaryLinear(24 * 5 * 4, 5), nn.BatchNorm1d(5)).eval())


def first_layer_bits(model: nn.Module, graph, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """The first binary conv's output bits: golden, and PyTorch's sign of its BatchNorm."""
    trace = golden.run(graph, x.numpy(), trace=True)
    first = graph.nodes[0]
    assert first.op == "bconv"
    ref = torch_trace(model, x)
    return trace[first.outputs[0]], ref[first.outputs[0]] < 0


def test_float_input_signs_match_pytorch() -> None:
    model = binary_first()
    x = torch.randn(64, 3, 9, 7) * 0.7
    graph = bnnkit.export(model, x[:1], calibration=x[:32])
    inp = graph.tensors[graph.inputs[0]]
    assert inp.dtype == "bits"
    np.testing.assert_array_equal(golden.quantize_input(graph, x.numpy()),
                                  (x.permute(0, 2, 3, 1) < 0).numpy())
    ours, theirs = first_layer_bits(model, graph, x)
    assert np.mean(ours != theirs) < 1e-4  # float ties in the popcount only
    assert max(compare(model, graph, x).bits_mismatch.values()) < 1e-4


def test_pixel_input_signs_match_pytorch() -> None:
    """Through the normalization table: pixels just below the mean stay -1."""
    model = binary_first(cin=1)
    mean, std = 0.502, 0.3   # pixel 128 is 0.00004 below the mean
    pixels = torch.arange(256).float().repeat(2)[: 2 * 63].reshape(2, 1, 9, 7)
    pixels = torch.cat([pixels, torch.randint(0, 256, (30, 1, 9, 7)).float()])
    x = (pixels / 255 - mean) / std
    graph = bnnkit.export(model, x[:1], calibration=x, normalize=((mean,), (std,)))
    assert graph.nodes[0].op == "lut"
    table = graph.nodes[0].arrays["table"]
    levels = (np.arange(256) / 255 - mean) / std
    threshold = graph.nodes[1]
    assert threshold.op == "threshold"
    bits = table[0].astype(np.int64) < threshold.arrays["threshold"][0]
    np.testing.assert_array_equal(bits, levels < 0)
    assert bits[128] and not bits[129]
