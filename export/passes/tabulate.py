"""Channel-wise int8 stages as per-channel tables: each ``channelwise_i8``
(a BatchNorm, PReLU or RPReLU shift left on the int8 stream after
quantization) becomes a ``lut``, and a ``lut`` read only by the next
channel-wise stage takes that stage in, so a chain of them is one table.

Why this is exact: a channel-wise stage maps each channel's input byte to an
output byte on its own, so its whole meaning is a (C, 256) table, computed
here by the golden function on all 256 input bytes; two tables in a row are
one, ``t[c, v] = t2[c, t1[c, v]]``. Why it pays: the generated C then looks
up one byte per value (about 4 aarch64 instructions, ``cruntime/lut_fast.c``)
where each channel-wise stage took about 7 (ReActNet's RPReLU is three in a
row). The cost: 256 bytes of table per channel instead of 20 of parameters.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ...golden import int_ops
from ...ir.graph import Graph, Node, prune

_BYTES = np.arange(256, dtype=np.uint8).view(np.int8)  # every int8, in byte order


def channelwise_table(graph: Graph, node: Node) -> np.ndarray:
    """The (C, 256) int8 table of a channelwise_i8 node, indexed by input byte."""
    t_in, t_out = (graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]])
    c = t_in.channels
    x = np.broadcast_to(_BYTES[:, None], (256, c)).reshape(1, 1, 256, c)
    return np.ascontiguousarray(int_ops.channelwise_i8(node, [x], [t_in], t_out)[0, 0].T)


def tabulate(graph: Graph) -> Graph:
    """Every channelwise_i8 of ``graph`` as a lut, chains of them as one."""
    readers = Counter(name for n in graph.nodes for name in n.inputs)
    nodes: list[Node] = []
    made_by: dict[str, int] = {}  # tensor -> index in nodes of its producer (-1: none)
    for node in graph.nodes:
        if node.op == "channelwise_i8":
            table = channelwise_table(graph, node)
            at = made_by.get(node.inputs[0], -1)
            src = nodes[at] if at >= 0 else None
            if (src is not None and src.op == "lut" and readers[node.inputs[0]] == 1
                    and node.inputs[0] not in graph.outputs
                    and graph.tensors[src.inputs[0]].dtype == "int8"):
                # one table for both: this stage's entry at the earlier's output (the
                # input's normalization, from uint8, stays the graph's first node)
                earlier = src.arrays["table"].view(np.uint8).astype(np.intp)
                nodes[at] = src.with_(
                    outputs=node.outputs,
                    arrays={"table": np.take_along_axis(table, earlier, axis=1)},
                    source=", ".join(s for s in (src.source, node.source) if s))
                made_by[node.outputs[0]] = at
                continue
            node = Node(node.name, "lut", node.inputs, node.outputs, {}, {"table": table},
                        node.source)
        nodes.append(node)
        for name in node.outputs:
            made_by[name] = len(nodes) - 1
    return prune(graph.with_(nodes=tuple(nodes)))
