"""The int8 grids of an exported graph in PyTorch's units, and the check that a model
trained on them (``bnnkit.nn.fake_int8``) is exported on the same ones.

An int8 tensor of the IR holds ``Z + round(x / S)`` of PyTorch's value ``x`` times the
power of two ``equalize`` gave its channel, so in PyTorch's units channel ``c`` has the
step ``S / factor[c]`` and the zero point ``Z``.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from .passes.calibrate import TRAINED
from .passes.equalize import channel_factors


def grid(graph: Graph, name: str) -> tuple[np.ndarray, int]:
    """Per-channel step and zero point of ``name``."""
    q = graph.tensors[name].quant
    assert q is not None, f"{name} is not quantized"
    return q.scale / channel_factors(graph, name), q.zero_point


def int8_grids(graph: Graph) -> dict[str, tuple[np.ndarray, int]]:
    """The grid of every int8 tensor of an exported graph."""
    return {name: grid(graph, name) for name, t in graph.tensors.items() if t.dtype == "int8"}


def stale_grids(graph: Graph) -> list[str]:
    """The tensors the model rounds to another grid than the export's (none if it
    was not trained with ``fake_int8``)."""
    stale = []
    for name, trained in graph.meta.get(TRAINED, {}).items():
        t = graph.tensors.get(name)
        if t is None or t.dtype != "int8":
            stale.append(name)
            continue
        step, zero = grid(graph, name)
        if zero != trained["zero"] or not np.array_equal(
                np.broadcast_to(np.float64(trained["step"]), step.shape), step):
            stale.append(name)
    return stale
