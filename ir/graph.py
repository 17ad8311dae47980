"""The graph IR: typed tensors and nodes in topological order.

Tensors are NHWC and always 4-D (a vector is ``(N, 1, 1, C)``). dtypes:

* ``float32``: only in graphs that are still being lowered;
* ``int8`` / ``uint8``: quantized, ``real = scale * (q - zero_point)``;
* ``bits``: +-1 values, bit 1 means -1, packed along C into uint64 words
  in C; the golden model keeps them unpacked as 0/1 uint8.

A node owns its constant arrays (weights, thresholds, multipliers). Graphs
are treated as immutable values: passes build new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

DTYPES = ("float32", "int8", "uint8", "bits")


@dataclass(frozen=True)
class Quant:
    scale: float
    zero_point: int


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, int, int, int]
    dtype: str
    quant: Quant | None = None

    @property
    def channels(self) -> int:
        return self.shape[3]

    @property
    def qparams(self) -> Quant:
        """The quantization of an int8/uint8 tensor, which validation guarantees."""
        if self.quant is None:
            raise ValueError(f"tensor {self.name} ({self.dtype}) has no quantization parameters")
        return self.quant

    def nbytes(self) -> int:
        """Bytes this tensor needs in the C arena (bits are packed by 64)."""
        n, h, w, c = self.shape
        if self.dtype == "bits":
            return n * h * w * ((c + 63) // 64) * 8
        return n * h * w * c * (4 if self.dtype == "float32" else 1)


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    source: str = ""  # where the op came from in the user's model, for messages

    def with_(self, **changes: Any) -> Node:
        return replace(self, **changes)


@dataclass(frozen=True)
class Graph:
    tensors: Mapping[str, Tensor]
    nodes: tuple[Node, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def with_(self, **changes: Any) -> Graph:
        return replace(self, **changes)

    def producer(self, tensor: str) -> Node | None:
        for node in self.nodes:
            if tensor in node.outputs:
                return node
        return None

    def consumers(self, tensor: str) -> list[Node]:
        return [n for n in self.nodes if tensor in n.inputs]

    def is_float(self) -> bool:
        return any(t.dtype == "float32" for t in self.tensors.values())

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)


def prune(graph: Graph) -> Graph:
    """Drop tensors no node or graph boundary refers to."""
    used = set(graph.inputs) | set(graph.outputs)
    for node in graph.nodes:
        used.update(node.inputs)
        used.update(node.outputs)
    return graph.with_(tensors={k: v for k, v in graph.tensors.items() if k in used})


def replace_node(graph: Graph, old: Node, new_nodes: list[Node],
                 new_tensors: Mapping[str, Tensor] | None = None,
                 drop: tuple[Node, ...] = ()) -> Graph:
    """Put ``new_nodes`` where ``old`` was, removing ``drop`` nodes too."""
    gone = {old.name} | {n.name for n in drop}
    nodes: list[Node] = []
    for node in graph.nodes:
        if node.name == old.name:
            nodes.extend(new_nodes)
        elif node.name not in gone:
            nodes.append(node)
    tensors = dict(graph.tensors)
    tensors.update(new_tensors or {})
    return prune(graph.with_(nodes=tuple(nodes), tensors=tensors))


def rewrite(graph: Graph, rule: Callable[[Graph, Node], Graph | None]) -> Graph:
    """Apply ``rule`` at the first node where it rewrites the graph, again and
    again until it rewrites nowhere: the driver of the local passes."""
    while True:
        for node in graph.nodes:
            new = rule(graph, node)
            if new is not None:
                graph = new
                break
        else:
            return graph


def absorb(graph: Graph, producer: Node, reader: Node, merged: Node) -> Graph:
    """Replace ``producer`` by ``merged`` (which writes ``reader``'s output) and
    drop ``reader``: the rewrite of every pass that folds an op into the one
    before it."""
    merged = merged.with_(outputs=reader.outputs)
    nodes = tuple(merged if n.name == producer.name else n
                  for n in graph.nodes if n.name != reader.name)
    return prune(graph.with_(nodes=nodes))


def sole_producer(graph: Graph, node: Node, ops: tuple[str, ...]) -> Node | None:
    """The node (of one of ``ops``) whose output only ``node`` reads, if any."""
    src = graph.producer(node.inputs[0])
    if (src is None or src.op not in ops or src.outputs[0] in graph.outputs
            or len(graph.consumers(src.outputs[0])) != 1):
        return None
    return src


def rename_tensor(graph: Graph, old: str, new: str) -> Graph:
    """Make every reader of ``old`` read ``new`` instead (graph outputs too)."""
    nodes = tuple(n.with_(inputs=tuple(new if i == old else i for i in n.inputs))
                  for n in graph.nodes)
    outputs = tuple(new if o == old else o for o in graph.outputs)
    return prune(graph.with_(nodes=nodes, outputs=outputs))
