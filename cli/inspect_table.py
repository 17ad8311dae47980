"""The layer table of ``bnn-export --inspect``."""

from __future__ import annotations

from ..ir.graph import Graph
from ..ir.stats import graph_stats


def _si(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def _bytes(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"


def layer_table(graph: Graph) -> str:
    stats = graph_stats(graph)
    rows = [("#", "node", "op", "output (HxWxC dtype)", "binary MACs", "INT8 MACs", "weights",
             "source")]
    for i, s in enumerate(stats):
        _, h, w, c = s.shape
        rows.append((str(i), s.name, s.op, f"{h}x{w}x{c} {s.dtype}", _si(s.binary_macs),
                     _si(s.int8_macs), _bytes(s.weight_bytes), s.source.split(",")[0]))
    total_b = sum(s.binary_macs for s in stats)
    total_i = sum(s.int8_macs for s in stats)
    total_w = sum(s.weight_bytes for s in stats)
    rows.append(("", "total", "", "", _si(total_b), _si(total_i), _bytes(total_w), ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {0, 4, 5, 6}
    lines = []
    for k, r in enumerate(rows):
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
        if k == 0 or k == len(rows) - 2:
            lines.append("  ".join("-" * wd for wd in widths))
    inp = graph.tensors[graph.inputs[0]]
    share = 100.0 * total_b / max(1, total_b + total_i)
    lines.append(f"input {inp.dtype} {'x'.join(map(str, inp.shape[1:]))}; "
                 f"{share:.1f}% of MACs are binary")
    return "\n".join(lines)
