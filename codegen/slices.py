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

The new part f(x_k) is, in DenseNet and MeliusNet, a binary conv's int8 output:
its kernel writes pixels ``pitch`` bytes apart (``bnn_bconv_params.out_pitch``),
so it too stores its bytes straight into its slice, and the concat copies
nothing. Its bytes are its own values: the view there is the concat's rescale.
So does an INT8 conv's output (an f, or a block's first input: DenseNet's
transitions) and an int8 pool's (the stem's max-pool), read by the concat and
thresholds (f's input).

MeliusNet's blocks put an add into a channel range between the concats:
x_{k+1} = concat(add_into(x_k, w), f). The add runs in place in x_k's buffer
(``planner.in_place``), so with x_k it becomes a slice too; it reads and
writes only its added channels, so it takes x_k's view there only if that
part of the view is the identity (those channels were copied), and passes the
rest of the view on to its output.

An input X of concat N is in place when: N's output is not the graph's
output; X is the output of another int8 concat, or of an add into a channel
range that runs in place in a concat's output (the chain), or the int8 output
of a producer that writes with a pitch (``PITCHED_PRODUCERS``); X is not the graph
input or output and is an input of N once; every reader of X (and of the
add's input) is N, a threshold (the readers that take an input pitch) or that
add, and none runs after N (so nothing writes the buffer while X is still
read); and the views then allowed (above) hold. The golden model is
untouched: only where bytes live changes.
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
#: Ops whose int8 output kernel writes into a slice (an output pitch: lower.py).
PITCHED_PRODUCERS = frozenset({"bconv", "conv_i8", "maxpool_i8", "avgpool_i8"})


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


def _members(graph: Graph, shared: dict[str, str], name: str) -> list[str]:
    """The tensors that move into a concat's buffer with its input ``name``: a concat's
    output or a pitched producer's, or an add's output with the concat output it was
    computed in; else none."""
    producer = {node.outputs[0]: node.op for node in graph.nodes}
    if producer.get(name) in {"concat_i8", *PITCHED_PRODUCERS}:
        return [name]
    x = shared.get(name)
    if producer.get(name) == "add_into_i8" and x is not None and producer.get(x) == "concat_i8":
        return [name, x]
    return []


def _candidates(graph: Graph, shared: dict[str, str]) -> dict[str, tuple[str, int]]:
    """Input -> (the concat output holding it, its first channel there), before views."""
    ends = {*graph.inputs, *graph.outputs}
    readers = _readers(graph)
    parent: dict[str, tuple[str, int]] = {}
    for i, node in enumerate(graph.nodes):
        if node.op != "concat_i8" or node.outputs[0] in ends:
            continue
        offset = 0
        for name in node.inputs:
            members = _members(graph, shared, name)
            # the readers: this concat, thresholds, and the add that made name (if one did)
            allowed = [j <= i and (r is node or r.op in SLICE_READERS
                                   or (r.outputs[0] == name and len(members) == 2))
                       for m in members for j, r in readers[m]]
            if (members and node.inputs.count(name) == 1
                    and not any(m in ends or m in parent for m in members) and all(allowed)):
                parent.update({m: (node.outputs[0], offset) for m in members})
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


def _added(node: Node, graph: Graph) -> slice:
    """The channels an add_into_i8 writes."""
    offset = int(node.attrs["offset"])
    return slice(offset, offset + graph.tensors[node.inputs[1]].channels)


def _views(graph: Graph, parent: dict[str, tuple[str, int]], shared: dict[str, str]
           ) -> dict[str, np.ndarray]:
    """The non-identity views of the concat outputs and in-place adds, in schedule order."""
    views: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        if node.op == "add_into_i8" and shared.get(node.outputs[0]) in views:
            view = views[node.inputs[0]].copy()  # the untouched channels keep their bytes
            view[_added(node, graph)] = LEVELS
            if not np.array_equal(view, np.broadcast_to(LEVELS, view.shape)):
                views[node.outputs[0]] = view
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
                    shared: dict[str, str], views: dict[str, np.ndarray]
                    ) -> list[tuple[str, slice]]:
    """Tensors with a view that a reader cannot fold, with the channels where it must
    be the identity: an add in place reads its added channels' values, every other
    such reader all channels."""
    def unfolded(t: str, r: Node) -> slice | None:
        if r.op in VIEW_READERS or parent.get(t, ("",))[0] == r.outputs[0]:
            return None
        if r.op == "add_into_i8" and shared.get(r.outputs[0]) == t:
            added = views[t][_added(r, graph)]
            identity = np.array_equal(added, np.broadcast_to(LEVELS, added.shape))
            return None if identity else _added(r, graph)
        return slice(0, graph.tensors[t].channels)

    readers = _readers(graph)
    bad = ((t, unfolded(t, r)) for t in views for _, r in readers.get(t, []))
    return [(t, chans) for t, chans in bad if chans is not None]


def concat_layout(graph: Graph, shared: dict[str, str]) -> Layout:
    """The concat inputs placed in their slices, and the views their readers fold;
    ``shared``: the adds in place (``planner.in_place``)."""
    parent = _candidates(graph, shared)
    while True:
        views = _views(graph, parent, shared)
        bad = _needs_identity(graph, parent, shared, views)
        if not bad:
            break
        # copy the inputs that make the view in those channels (an add's view is its
        # input concat's); the others stay in place
        kept = len(parent)
        for t, chans in bad:
            view = views[t]
            while t in shared:
                t = shared[t]
            for name, (holder, offset) in list(parent.items()):
                end = offset + graph.tensors[name].channels
                part = view[offset:end]
                if (holder == t and offset < chans.stop and chans.start < end
                        and not np.array_equal(part, np.broadcast_to(LEVELS, part.shape))):
                    parent.pop(name, None)
                    parent.pop(shared.get(name, ""), None)  # an add's input goes with it
        if len(parent) == kept:  # nothing to demote: copy everything
            parent.clear()
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
