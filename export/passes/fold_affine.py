"""Fold per-channel affine ops (BatchNorm, XNOR scale, bias) into the conv before them.

``affine(conv(x))`` with the conv's output read by nothing else becomes the
conv with ``scale' = scale * s`` and ``shift' = shift * s + t``; chains of
affines merge the same way. Float in, float out, same function.
"""

from __future__ import annotations

from ...ir.graph import Graph, prune


def fold_affine(graph: Graph) -> Graph:
    changed = True
    while changed:
        changed = False
        for node in graph.nodes:
            if node.op != "affine":
                continue
            src = graph.producer(node.inputs[0])
            if (src is None or src.op not in ("conv", "affine") or src.attrs.get("clamp")
                    or len(graph.consumers(src.outputs[0])) != 1
                    or src.outputs[0] in graph.outputs):
                continue
            s, t = node.arrays["scale"], node.arrays["shift"]
            merged = src.with_(arrays={**src.arrays, "scale": src.arrays["scale"] * s,
                                       "shift": src.arrays["shift"] * s + t},
                               outputs=node.outputs)
            nodes = tuple(merged if n.name == src.name else n
                          for n in graph.nodes if n.name != node.name)
            graph = prune(graph.with_(nodes=nodes))
            changed = True
            break
    return graph
