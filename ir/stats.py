"""Per-node cost figures: binary MACs, INT8 MACs, weight bytes."""

from __future__ import annotations

from dataclasses import dataclass

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
    _, oh, ow, oc = out.shape
    binary = int8 = 0
    if node.op in ("bconv", "conv_i8", "conv"):
        w = node.arrays["weight"]
        kh, kw = w.shape[1:3]
        cin = graph.tensors[node.inputs[0]].channels
        groups = node.attrs.get("groups", 1)
        macs = oh * ow * oc * kh * kw * (cin // groups)
        if node.op == "bconv" or graph.tensors[node.inputs[0]].dtype == "bits":
            binary = macs
        else:
            int8 = macs
    weight_bytes = sum(int(a.nbytes) for a in node.arrays.values())
    return NodeStats(node.name, node.op, out.shape, out.dtype, binary, int8, weight_bytes,
                     node.source)


def graph_stats(graph: Graph) -> list[NodeStats]:
    return [node_stats(graph, n) for n in graph.nodes]
