"""The model zoo: published ImageNet BNNs written with bnnkit's layers.

Each factory returns an untrained ``nn.Module`` for 224x224x3 inputs and
``classes`` outputs; its docstring cites the paper and gives the binary and INT8
MACs at 224x224 that ``bnn-export --inspect`` reports for it (``tests/test_zoo.py``
checks them). ``bnn-bench --workload NAME`` runs them with random weights.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from torch import nn

from .abcnet import abc_resnet18
from .alexnet import binary_alexnet, xnor_net, xnor_net_input_scaling
from .bireal import bireal_net18
from .densenet import binary_densenet28, binary_densenet37_dilated
from .layers import randomize
from .meliusnet import meliusnet22, meliusnet29
from .quicknet import quicknet, quicknet_small
from .reactnet import reactnet_a
from .resnet import binaryconnect_resnet18, bwn_resnet18, ttq_resnet18

RESOLUTION = 224

MODELS: dict[str, Callable[..., nn.Module]] = {
    "quicknet_small": quicknet_small,
    "quicknet": quicknet,
    "bireal_net18": bireal_net18,
    "reactnet_a": reactnet_a,
    "binary_densenet28": binary_densenet28,
    "binary_densenet37_dilated": binary_densenet37_dilated,
    "xnor_net": xnor_net,
    "xnor_net_input_scaling": xnor_net_input_scaling,
    "binary_alexnet": binary_alexnet,
    "bwn_resnet18": bwn_resnet18,
    "binaryconnect_resnet18": binaryconnect_resnet18,
    "meliusnet22": meliusnet22,
    "meliusnet29": meliusnet29,
    "abc_resnet18": abc_resnet18,
    "ttq_resnet18": ttq_resnet18,
}

_MACS = re.compile(r"binary MACs ([\d.]+) G, INT8 MACs ([\d.]+) M")


def documented_macs(name: str) -> tuple[float, float]:
    """(binary, INT8) MACs at 224x224 as the factory's docstring states them."""
    match = _MACS.search(" ".join((MODELS[name].__doc__ or "").split()))
    if match is None:
        raise ValueError(f"zoo model {name}: its docstring states no MACs")
    return float(match.group(1)) * 1e9, float(match.group(2)) * 1e6


__all__ = ["MODELS", "RESOLUTION", "documented_macs", "randomize", *MODELS]
