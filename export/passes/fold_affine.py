"""Fold per-channel affine ops (BatchNorm, XNOR scale, bias) into the conv before them.

``affine(conv(x))`` with the conv's output read by nothing else becomes the
conv with ``scale' = scale * s`` and ``shift' = shift * s + t``; chains of
affines merge the same way. Float in, float out, same function.
"""

from __future__ import annotations

from ...ir.graph import Graph, Node, absorb, rewrite, sole_producer


def _fold(graph: Graph, node: Node) -> Graph | None:
    if node.op != "affine":
        return None
    src = sole_producer(graph, node, ("conv", "kconv", "affine"))
    if src is None or src.attrs.get("clamp"):
        return None
    s, t = node.arrays["scale"], node.arrays["shift"]
    merged = src.with_(arrays={**src.arrays, "scale": src.arrays["scale"] * s,
                               "shift": src.arrays["shift"] * s + t})
    return absorb(graph, src, node, merged)


def fold_affine(graph: Graph) -> Graph:
    return rewrite(graph, _fold)
