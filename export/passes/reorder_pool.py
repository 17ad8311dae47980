"""Move per-channel affines and signs from after a max-pool to before it.

BNNs often run conv -> max-pool -> BatchNorm -> sign. Moving the BatchNorm
and the sign in front of the pool lets them fold into the conv's integer
thresholds, and the pool then works on bits.

* ``affine(maxpool(x)) == maxpool'(affine(x))`` where ``maxpool'`` takes the
  min on channels whose scale is negative (``min_mask``);
* ``sign(maxpool(x)) == maxpool(sign(x))``, sign being monotone; on bits the
  max is the AND of the bits and the min their OR (DESIGN.md section 3).

Both rewrites are exact. An affine with a negative scale moves only when one
sign reads it (and then moves too), so that the pool ends up on bits: the INT8 max-pool has no
min, and left after the pool the affine is an exact per-channel INT8 stage.
"""

from __future__ import annotations

import numpy as np

from ...ir.graph import Graph, Node, Tensor, prune, rewrite


def _fresh_name(graph: Graph, base: str) -> str:
    """``base``, or ``base2``, ``base3``...: a sign moved across two pools needs two names."""
    name, k = base, 1
    while name in graph.tensors:
        k += 1
        name = f"{base}{k}"
    return name


def _swap(graph: Graph, pool: Node, after: Node, min_mask: np.ndarray,
          pre_dtype: str) -> Graph:
    """``after(pool(x))`` -> ``pool(after(x))``, keeping ``after``'s output name."""
    pre_name = _fresh_name(graph, f"{after.name}_prepool")
    src = graph.tensors[pool.inputs[0]]
    pre = Tensor(pre_name, src.shape, pre_dtype)
    moved = after.with_(inputs=pool.inputs, outputs=(pre_name,))
    arrays = {**pool.arrays, "min_mask": min_mask.astype(np.uint8)}
    new_pool = pool.with_(inputs=(pre_name,), outputs=after.outputs, arrays=arrays)
    nodes = []
    for n in graph.nodes:
        if n.name == pool.name:
            nodes += [moved, new_pool]
        elif n.name != after.name:
            nodes.append(n)
    return prune(graph.with_(nodes=tuple(nodes), tensors={**graph.tensors, pre_name: pre}))


def _read_by_one_sign(graph: Graph, tensor: str) -> bool:
    readers = graph.consumers(tensor)
    return len(readers) == 1 and readers[0].op == "sign" and tensor not in graph.outputs


def _reorder(graph: Graph, pool: Node) -> Graph | None:
    if pool.op != "maxpool" or pool.outputs[0] in graph.outputs:
        return None
    readers = graph.consumers(pool.outputs[0])
    if len(readers) != 1 or readers[0].op not in ("affine", "sign"):
        return None
    after = readers[0]
    src = graph.tensors[pool.inputs[0]]
    mask = pool.arrays.get("min_mask", np.zeros(src.channels, np.uint8)).astype(bool)
    if after.op == "sign":
        return _swap(graph, pool, after, mask, "bits")
    if src.dtype == "bits":
        return None
    negative = after.arrays["scale"] < 0
    if negative.any() and not _read_by_one_sign(graph, after.outputs[0]):
        return None
    return _swap(graph, pool, after, mask ^ negative, "float32")


def reorder_pool(graph: Graph) -> Graph:
    return rewrite(graph, _reorder)
