"""Static memory planning: every intermediate tensor gets an offset in one arena.

Placement rules (documented in the generated header too):

* the graph input is read directly from the caller's input buffer and the
  graph output is written directly into the caller's output buffer; neither
  takes arena space;
* every other tensor lives in the arena from the node that produces it to the
  last node that reads it (a tensor nobody reads lives for its producer only);
* offsets are 16-byte aligned (NEON loads, uint64 words);
* an add into a channel range (``add_into_i8``) whose first input has the
  output's quantization and is read by nothing after it writes its output
  into that input's buffer (``in_place``): the two are one buffer, alive
  from the input's producer to the output's last reader;
* an int8 concat's input that is itself a concat's output (or an add computed
  in place in one: MeliusNet) lives as a channel slice of the concat's output
  buffer when ``slices.concat_layout`` allows it
  (chains included: the buffer is the last concat's, alive from the first
  producer of any of its slices to its last reader); a slice's offset is its
  root's plus its first channel's byte, so it is not aligned;
* placement is greedy by size: largest tensor first, each into the smallest
  gap (lowest offset on ties, else the top) that does not overlap any already
  placed tensor whose lifetime intersects its own. Greedy by size can lose to
  a chain whose sizes alternate, so the same placement is also tried in two
  other orders (by producer, by lifetime length) and in ``RESTARTS`` shuffled
  orders from a fixed seed; the smallest arena wins. The seed is fixed, so the
  plan is deterministic.

The lower bound is the largest total size of tensors alive at one time; no
plan can use less. ``lower_bound_aligned`` counts each tensor rounded up to
the alignment, the bound for any plan that keeps offsets aligned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir.graph import Graph
from .slices import Slice, concat_layout

ALIGN = 16
RESTARTS = 64


def align_up(n: int, align: int = ALIGN) -> int:
    return (n + align - 1) // align * align


@dataclass(frozen=True)
class Placement:
    tensor: str
    offset: int   # bytes from the arena start
    size: int     # Tensor.nbytes()
    first: int    # index of the producing node
    last: int     # index of the last reading node


@dataclass(frozen=True)
class Plan:
    placements: dict[str, Placement]  # arena tensors only, in schedule order
    arena_bytes: int
    lower_bound: int
    lower_bound_aligned: int
    input: str                       # tensor read from the caller's input buffer
    output: str                      # tensor written to the caller's output buffer
    shared: dict[str, str] = field(default_factory=dict)  # output -> input it overwrites
    slices: dict[str, Slice] = field(default_factory=dict)  # concat inputs in place
    views: dict[str, np.ndarray] = field(default_factory=dict)  # slices.Layout.views
    buffers: dict[str, str] = field(default_factory=dict)  # arena tensor -> its buffer

    def shares_buffer(self, tensor: str, other: str) -> bool:
        """Whether ``tensor`` is computed in place in ``other``'s buffer."""
        return self.shared.get(tensor) == other

    def pitch(self, tensor: str, channels: int) -> int:
        """Elements from one pixel of ``tensor`` to the next (``channels`` unless a slice)."""
        s = self.slices.get(tensor)
        return channels if s is None else s.pitch

    def location(self, tensor: str) -> str:
        """"input", "output" or "arena"."""
        if tensor == self.input:
            return "input"
        if tensor == self.output:
            return "output"
        return "arena"


def lifetimes(graph: Graph) -> dict[str, tuple[int, int]]:
    """(producer index, last reader index) of every tensor a node produces."""
    spans: dict[str, tuple[int, int]] = {}
    for i, node in enumerate(graph.nodes):
        for name in node.outputs:
            spans[name] = (i, i)
        for name in node.inputs:
            if name in spans:
                spans[name] = (spans[name][0], i)
    last = len(graph.nodes) - 1
    for name in graph.outputs:
        if name in spans:
            spans[name] = (spans[name][0], last)
    return spans


def in_place(graph: Graph) -> dict[str, str]:
    """Output -> first input of every add_into_i8 that can write into its input."""
    spans = lifetimes(graph)
    ends = (*graph.inputs, *graph.outputs)
    shared: dict[str, str] = {}
    for i, node in enumerate(graph.nodes):
        if node.op != "add_into_i8":
            continue
        (x, w), out = node.inputs, node.outputs[0]
        if (x not in ends and out not in ends and w != x and spans[x][1] == i
                and graph.tensors[x].quant == graph.tensors[out].quant):
            shared[out] = x
    return shared


def _alive_bytes(spans: dict[str, tuple[int, int]], sizes: dict[str, int],
                 num_nodes: int) -> int:
    best = 0
    for step in range(num_nodes):
        best = max(best, sum(sizes[t] for t, (a, b) in spans.items() if a <= step <= b))
    return best


def _place(size: int, span: tuple[int, int], placed: list[Placement]) -> int:
    """Lowest offset of the smallest gap that fits among conflicting tensors."""
    busy = sorted((p.offset, p.offset + align_up(p.size)) for p in placed
                  if p.first <= span[1] and span[0] <= p.last)
    best_offset, best_gap = None, None
    cursor = 0
    for start, end in busy:
        gap = start - cursor
        if gap >= size and (best_gap is None or gap < best_gap):
            best_offset, best_gap = cursor, gap
        cursor = max(cursor, end)
    return cursor if best_offset is None else best_offset


def _greedy(order: list[str], spans: dict[str, tuple[int, int]], sizes: dict[str, int]
            ) -> list[Placement]:
    placed: list[Placement] = []
    for t in order:
        offset = _place(align_up(sizes[t]), spans[t], placed)
        placed.append(Placement(t, offset, sizes[t], *spans[t]))
    return placed


def _top(placed: list[Placement]) -> int:
    return max((p.offset + align_up(p.size) for p in placed), default=0)


def plan_memory(graph: Graph) -> Plan:
    """Place every intermediate tensor of ``graph`` in one static arena."""
    if not graph.nodes:
        raise ValueError("graph has no nodes; nothing to generate")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ValueError("generated C supports graphs with one input and one output")
    inp, out = graph.inputs[0], graph.outputs[0]
    all_spans = lifetimes(graph)
    spans = {t: s for t, s in all_spans.items() if t not in (inp, out)}
    shared = in_place(graph)
    layout = concat_layout(graph, shared)
    buffer = {t: t for t in spans}  # tensor -> the buffer it lives in
    for t, s in layout.slices.items():
        buffer[t] = s.root
    for t, x in shared.items():  # producer order: a chain ends in its first input
        buffer[t] = buffer[x]
    spans = {}
    for t, b in buffer.items():  # a buffer lives from its first producer to its last reader
        first, last = spans.get(b, all_spans[t])
        spans[b] = (min(first, all_spans[t][0]), max(last, all_spans[t][1]))
    sizes = {t: graph.tensors[t].nbytes() for t in spans}
    orders = (
        sorted(spans, key=lambda t: (-align_up(sizes[t]), spans[t][0], t)),   # by size
        sorted(spans, key=lambda t: (spans[t][0], -align_up(sizes[t]), t)),   # by producer
        sorted(spans, key=lambda t: (spans[t][0] - spans[t][1], -sizes[t], t)),  # longest life
    )
    rng = np.random.default_rng(0)  # fixed seed: the same graph gives the same plan
    restarts = RESTARTS if len(spans) > 2 else 0
    shuffled = [[orders[0][i] for i in rng.permutation(len(spans))] for _ in range(restarts)]
    bound = _alive_bytes(spans, {t: align_up(s) for t, s in sizes.items()}, len(graph.nodes))
    best: list[Placement] | None = None
    for order in (*orders, *shuffled):
        placed = _greedy(order, spans, sizes)
        if best is None or _top(placed) < _top(best):
            best = placed
        if _top(best) <= bound:
            break
    assert best is not None
    by_name = {p.tensor: p for p in best}
    arena = _top(best)
    def offset(t: str) -> int:
        s = layout.slices.get(t)
        return by_name[buffer[t]].offset + (s.offset if s else 0)  # int8: a byte a channel

    return Plan(
        placements={t: Placement(t, offset(t), graph.tensors[t].nbytes(), *all_spans[t])
                    for t in buffer},  # producer order
        arena_bytes=arena,
        lower_bound=_alive_bytes(spans, sizes, len(graph.nodes)),
        lower_bound_aligned=bound,
        input=inp,
        output=out,
        shared=shared,
        slices=layout.slices,
        views=layout.views,
        buffers=buffer,
    )
