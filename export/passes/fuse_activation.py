"""Fuse clamping activations (ReLU, ReLU6, Hardtanh, clamp) into the op before.

An ``act`` whose slope is 0 everywhere (ReLU family: clamp(max(x, 0))) or 1
everywhere (pure clamp) after a conv or add becomes that op's ``clamp``
bounds; later they are the int8 output stage's clamp.
"""

from __future__ import annotations

import numpy as np

from ...ir.graph import Graph, Node, absorb, rewrite, sole_producer


def _as_clamp(node: Node) -> list | None:
    slope = node.arrays["slope"]
    lo, hi = node.attrs.get("clamp") or [None, None]
    if np.all(slope == 0.0):
        lo = 0.0 if lo is None else max(lo, 0.0)
    elif not np.all(slope == 1.0):
        return None
    return [lo, hi]


def _intersect(a: list | None, b: list) -> list:
    if not a:
        return b
    lo = [v for v in (a[0], b[0]) if v is not None]
    hi = [v for v in (a[1], b[1]) if v is not None]
    return [max(lo) if lo else None, min(hi) if hi else None]


def _fuse(graph: Graph, node: Node) -> Graph | None:
    if node.op != "act":
        return None
    bounds = _as_clamp(node)
    src = sole_producer(graph, node, ("conv", "kconv", "add"))
    if bounds is None or src is None:
        return None
    merged = src.with_(attrs={**src.attrs, "clamp": _intersect(src.attrs.get("clamp"), bounds)})
    return absorb(graph, src, node, merged)


def fuse_activation(graph: Graph) -> Graph:
    return rewrite(graph, _fuse)
