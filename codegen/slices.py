"""Concats written in place: which int8 concat inputs live as channel slices of the
concat's output buffer.

In a DenseNet block x_{k+1} = concat(x_k, f(x_k)), and x_k is itself a concat's
output. Copying x_k into x_{k+1} costs the whole growing tensor every layer;
instead the chain lives in one buffer (the last concat's, its *root*): x_k is
its channels [0, c_k), pixels ``pitch`` (the root's channel count) bytes apart,
and the concat only copies its other inputs (f(x_k)) into their slices.

The concat's rescale of x_k (each concat has its own quantization) is then not
applied to the bytes: they stay as x_k's producer stored them, and the tensor
has a *view*, per channel the map stored byte -> the tensor's int8 value
(256 entries; the composition of the rescales along the chain). The view is
folded exactly into the readers, at export: a threshold's per-channel
thresholds move (a rescale is monotone, so ``view(q) >= t`` iff ``q >= t'``),
a lut's table is composed with it, and a concat holding the tensor in place
composes it with its own rescale. A tensor whose view is not the identity may
have only those readers; where that fails, the input is copied as before.

An input X of concat N is in place when: N's output is not the graph's
output; X is the output of another int8 concat (the chain); X is not the graph
input or output and is an input of N once; every reader of X is N or a
threshold (the readers that take an input pitch), and none runs after N (so
nothing writes the buffer while X is still read); and the views then allowed
(above) hold. The golden model is untouched: only where bytes live changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..golden.quant import requantize
from ..ir.graph import Graph, Node

#: Every int8 value, in the order a view's 256 entries are indexed (q + 128).
LEVELS = np.arange(-128, 128, dtype=np.int64)
#: Readers that fold a view into their own arrays (besides the concat holding it).
VIEW_READERS = frozenset({"threshold", "lut"})
#: Readers that take a slice (an input pitch and channel offset).
SLICE_READERS = frozenset({"threshold"})


@dataclass(frozen=True)
class Slice:
    """Where a tensor lives inside its root's buffer."""

    root: str     # the tensor whose buffer holds this one
    offset: int   # the root's channel holding this tensor's channel 0
    pitch: int    # the root's channels: elements from one pixel to the next


@dataclass(frozen=True)
class Layout:
    slices: dict[str, Slice]       # tensors placed inside another's buffer
    views: dict[str, np.ndarray]   # tensor -> (channels, 256) int8 values of its stored bytes


def _readers(graph: Graph) -> dict[str, list[tuple[int, Node]]]:
    readers: dict[str, list[tuple[int, Node]]] = {}
    for i, node in enumerate(graph.nodes):
        for name in node.inputs:
            readers.setdefault(name, []).append((i, node))
    return readers


def _candidates(graph: Graph) -> dict[str, tuple[str, int]]:
    """Input -> (the concat output holding it, its first channel there), before views."""
    ends = {*graph.inputs, *graph.outputs}
    producer = {node.outputs[0]: node.op for node in graph.nodes}
    readers = _readers(graph)
    parent: dict[str, tuple[str, int]] = {}
    for i, node in enumerate(graph.nodes):
        if node.op != "concat_i8" or node.outputs[0] in ends:
            continue
        offset = 0
        for name in node.inputs:
            if (name not in ends and name not in parent and node.inputs.count(name) == 1
                    and producer.get(name) == "concat_i8"
                    and all(j <= i and (r is node or r.op in SLICE_READERS)
                            for j, r in readers[name])):
                parent[name] = (node.outputs[0], offset)
            offset += graph.tensors[name].channels
    return parent


def _rescale(graph: Graph, node: Node, index: int, values: np.ndarray) -> np.ndarray:
    """Input ``index`` of concat ``node`` rescaled to its output (golden.int_ops.concat_i8)."""
    m, s = node.attrs["rescale"][index]
    t_in = graph.tensors[node.inputs[index]]
    t_out = graph.tensors[node.outputs[0]]
    assert t_in.quant is not None and t_out.quant is not None
    return requantize(values - t_in.quant.zero_point, m, s, t_out.quant.zero_point).astype(
        np.int64)


def _views(graph: Graph, parent: dict[str, tuple[str, int]]) -> dict[str, np.ndarray]:
    """The non-identity views of the concat outputs, in schedule order."""
    views: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        if node.op != "concat_i8":
            continue
        out = node.outputs[0]
        maps = []
        for i, name in enumerate(node.inputs):
            c = graph.tensors[name].channels
            if parent.get(name, ("",))[0] == out:
                stored = views.get(name, np.broadcast_to(LEVELS, (c, 256)))
                maps.append(_rescale(graph, node, i, stored))
            else:  # copied: the concat writes the values themselves
                maps.append(np.broadcast_to(LEVELS, (c, 256)))
        view = np.concatenate(maps)
        if not np.array_equal(view, np.broadcast_to(LEVELS, view.shape)):
            views[out] = view
    return views


def _needs_identity(graph: Graph, parent: dict[str, tuple[str, int]],
                    views: dict[str, np.ndarray]) -> list[str]:
    """Tensors with a view that a reader cannot fold."""
    readers = _readers(graph)
    return [t for t in views for _, r in readers.get(t, [])
            if r.op not in VIEW_READERS and parent.get(t, ("",))[0] != r.outputs[0]]


def concat_layout(graph: Graph) -> Layout:
    """The concat inputs placed in their slices, and the views their readers fold."""
    parent = _candidates(graph)
    while True:
        views = _views(graph, parent)
        bad = _needs_identity(graph, parent, views)
        if not bad:
            break
        # copy the inputs that make the view: its other channels are plain values
        for t in bad:
            view = views[t]
            for name, (holder, offset) in list(parent.items()):
                c = graph.tensors[name].channels
                part = view[offset:offset + c]
                if holder == t and not np.array_equal(part, np.broadcast_to(LEVELS, part.shape)):
                    del parent[name]
    slices = {}
    for name in parent:
        root, offset = name, 0
        while root in parent:
            root, k = parent[root]
            offset += k
        slices[name] = Slice(root, offset, graph.tensors[root].channels)
    return Layout(slices, views)


def fold_threshold(view: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """Per channel, the least stored byte whose value reaches the threshold (128: none):
    ``view[c][q] >= threshold[c]`` iff ``q >= result[c]``, the view being monotone."""
    assert np.all(np.diff(view, axis=1) >= 0), "a concat's rescale is monotone"
    reach = view >= np.asarray(threshold, dtype=np.int64)[:, None]
    first = np.argmax(reach, axis=1) - 128
    return np.where(reach.any(axis=1), first, 128)


def fold_table(view: np.ndarray, table: np.ndarray) -> np.ndarray:
    """A lut's [c][256] table (indexed by the value's byte) read through a view: the same
    indexing, by the stored byte."""
    c = np.arange(view.shape[0])[:, None]
    by_stored = table[c, view & 255]                    # indexed by q + 128
    return np.roll(by_stored, -128, axis=1)             # indexed by q & 255
