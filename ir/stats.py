"""Per-node cost figures: binary MACs, INT8 MACs (each op's registry entry), weight bytes."""

from __future__ import annotations

from dataclasses import dataclass

from ..registry import node_macs
from .graph import Graph, Node


@dataclass(frozen=True)
class NodeStats:
    name: str
    op: str
    shape: tuple[int, int, int, int]
    dtype: str
    binary_macs: int
    int8_macs: int
    weight_bytes: int
    source: str


def node_stats(graph: Graph, node: Node) -> NodeStats:
    out = graph.tensors[node.outputs[0]]
    macs = node_macs(graph, node)
    weight_bytes = sum(int(a.nbytes) for a in node.arrays.values())
    return NodeStats(node.name, node.op, out.shape, out.dtype, macs.binary, macs.int8,
                     weight_bytes, node.source)


def graph_stats(graph: Graph) -> list[NodeStats]:
    return [node_stats(graph, n) for n in graph.nodes]
