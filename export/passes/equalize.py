"""Widen real-valued features that share an int8 scale with much wider ones.

An int8 tensor has one scale. When a concat (DenseNet, MeliusNet) puts the
outputs of a real-valued layer (a stem or transition conv, range +-5) beside
binary convs' unnormalized outputs (integers up to +-100), the concat's scale
is set by the wide channels and the narrow ones keep a dozen levels: the
BatchNorm + sign that reads them then decides on a coarse value (82% top-1
agreement with PyTorch on a reduced MeliusNet trained on digits).

This pass multiplies such a layer's output by a power of two ``alpha`` (its
per-channel scale and shift, and a fused clamp) and divides every reader's
per-channel scale (BatchNorm, a real-valued conv's weights) by it; signs,
pools, ReLU-like activations, concats and the untouched channels of an
add_into carry the scaled channels between the two. Powers of two scale
floats exactly, so the float graph computes the same bits. ``alpha`` is the
largest power of two that keeps the scaled channels inside the calibrated
range of every tensor they share with other channels, so those ranges (and
their int8 scales) do not change; the tensors that hold only the scaled
channels get ``alpha`` times their range, i.e. the same int8 codes.

Needs a calibrated graph (``meta["ranges"]``); records the factors in
``meta["equalized"]`` for ``bnn-export --compare`` (``channel_factors``).
"""

from __future__ import annotations

import math

import numpy as np

from ...ir.graph import Graph, Node

#: below this gain the narrow channels already have most of the int8 levels
MIN_ALPHA = 2.0


class _Refused(Exception):
    """A reader that does not commute with a per-channel scale."""


def _homogeneous(node: Node) -> bool:
    """act(alpha * x) == alpha * act(x) for alpha > 0: ReLU, PReLU, LeakyReLU."""
    lo, hi = node.attrs.get("clamp") or (None, None)
    return lo in (None, 0.0) and hi is None


def _reach(graph: Graph, start: str, channels: int
           ) -> tuple[dict[str, list[int]], dict[str, tuple[Node, list[int]]]]:
    """Where the ``channels`` channels of ``start`` go: every tensor that carries them
    (with their channel offsets) and the readers that absorb a per-channel scale."""
    carried: dict[str, list[int]] = {start: [0]}
    absorbers: dict[str, tuple[Node, list[int]]] = {}
    todo = [start]
    while todo:
        name = todo.pop()
        if name in graph.outputs:
            raise _Refused
        offsets = carried[name]
        for node in graph.consumers(name):
            if node.inputs.count(name) > 1:
                raise _Refused
            moved = offsets
            if node.op == "concat":
                base = sum(graph.tensors[i].channels for i in
                           node.inputs[:node.inputs.index(name)])
                moved = [base + o for o in offsets]
            elif node.op == "add_into":
                lo = node.attrs["offset"]
                hi = lo + graph.tensors[node.inputs[1]].channels
                if node.inputs[1] == name or any(o < hi and o + channels > lo
                                                  for o in offsets):
                    raise _Refused
            elif node.op in ("affine", "sign") or (node.op == "conv" and _scalable(node)):
                absorbers[node.name] = (node, offsets)
                continue
            elif not (node.op in ("maxpool", "avgpool")
                      or (node.op == "act" and _homogeneous(node))):
                raise _Refused
            out = node.outputs[0]
            merged = sorted(set(carried.get(out, [])) | set(moved))
            if merged != carried.get(out):
                carried[out] = merged
                todo.append(out)
    return carried, absorbers


def _scalable(conv: Node) -> bool:
    """A real-valued conv whose weights can take a per-input-channel factor: zero
    padded, not +-1 weights (those export as 1-bit weights)."""
    w = conv.arrays["weight"]
    return (not np.all(np.abs(w) == 1.0)
            and not (any(conv.attrs["padding"]) and conv.attrs["pad_value"] != 0.0))


def _alpha(graph: Graph, ranges: dict, carried: dict[str, list[int]], channels: int,
           start: str) -> float:
    """The largest power of two that keeps ``start``'s scaled range inside the range of
    every tensor it shares with other channels; 1 if there is none."""
    lo, hi = ranges[start]
    bound = math.inf
    for name in carried:
        if graph.tensors[name].channels == channels:
            continue  # only the scaled channels: its range scales with them
        t_lo, t_hi = ranges[name]
        if lo < 0:
            bound = min(bound, t_lo / lo)
        if hi > 0:
            bound = min(bound, t_hi / hi)
    if not math.isfinite(bound) or bound < MIN_ALPHA:
        return 1.0
    return 2.0 ** math.floor(math.log2(bound))


def _scale_producer(node: Node, alpha: float) -> Node:
    clamp = node.attrs.get("clamp")
    attrs = dict(node.attrs)
    if clamp:
        attrs["clamp"] = [None if b is None else b * alpha for b in clamp]
    return node.with_(attrs=attrs, arrays={**node.arrays, "scale": node.arrays["scale"] * alpha,
                                           "shift": node.arrays["shift"] * alpha})


def _scale_reader(graph: Graph, node: Node, offsets: list[int], channels: int,
                  alpha: float) -> Node:
    if node.op == "sign":
        return node
    factor = np.ones(graph.tensors[node.inputs[0]].channels)
    for o in offsets:
        factor[o:o + channels] = 1.0 / alpha
    if node.op == "affine":
        return node.with_(arrays={**node.arrays, "scale": node.arrays["scale"] * factor})
    w = node.arrays["weight"]                    # (cout, kh, kw, cin / groups)
    groups = node.attrs["groups"]
    per_group = w.shape[3]
    group_of_out = np.arange(w.shape[0]) // (w.shape[0] // groups)
    cin = group_of_out[:, None] * per_group + np.arange(per_group)[None, :]
    return node.with_(arrays={**node.arrays, "weight": w * factor[cin][:, None, None, :]})


def _widen(graph: Graph, ranges: dict, node: Node
           ) -> tuple[Graph, dict, dict[str, list[list]]] | None:
    if node.op not in ("conv", "affine"):
        return None
    start = node.outputs[0]
    channels = graph.tensors[start].channels
    try:
        carried, absorbers = _reach(graph, start, channels)
    except _Refused:
        return None
    alpha = _alpha(graph, ranges, carried, channels, start)
    if alpha == 1.0:
        return None
    changed = {node.name: _scale_producer(node, alpha)}
    for reader, offsets in absorbers.values():
        changed[reader.name] = _scale_reader(graph, changed.get(reader.name, reader),
                                             offsets, channels, alpha)
    pure = [name for name in carried if graph.tensors[name].channels == channels]
    ranges = {**ranges, **{name: [ranges[name][0] * alpha, ranges[name][1] * alpha]
                           for name in pure}}
    spans = {name: [[o, o + channels, alpha] for o in offsets]
             for name, offsets in carried.items()}
    nodes = tuple(changed.get(n.name, n) for n in graph.nodes)
    return graph.with_(nodes=nodes), ranges, spans


def equalize(graph: Graph) -> Graph:
    """Calibrated float graph -> the same function with narrow concatenated features
    widened (see the module docstring): ranges updated, and per tensor the channel
    spans and their factors in ``meta["equalized"]`` ([first, end, alpha] each)."""
    ranges = dict(graph.meta["ranges"])
    spans: dict[str, list[list]] = {}
    for name in [n.name for n in graph.nodes]:
        node = next(n for n in graph.nodes if n.name == name)
        widened = _widen(graph, ranges, node)
        if widened is None:
            continue
        graph, ranges, new = widened
        for tensor, runs in new.items():
            spans.setdefault(tensor, []).extend(runs)
    if not spans:
        return graph
    return graph.with_(meta={**graph.meta, "ranges": ranges, "equalized": spans})


def channel_factors(graph: Graph, tensor: str) -> np.ndarray:
    """Per channel, what ``equalize`` multiplied ``tensor`` by (ones if nothing)."""
    factors = np.ones(graph.tensors[tensor].channels)
    for first, end, alpha in graph.meta.get("equalized", {}).get(tensor, []):
        factors[first:end] *= alpha
    return factors
