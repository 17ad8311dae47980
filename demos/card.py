"""What every model card measures: cost from the exported graph, latency from the C."""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass
class Measurements:
    graph: object              # bnnkit.ir.Graph
    binary_macs: int
    int8_macs: int
    weight_bytes: int
    latency: str               # host latency of the generated program, as a sentence
    layers: str                # markdown rows: layer, op, output, MACs, weight bytes


def measure(model: Path, runs: int) -> Measurements:
    """Export (cached) and build ``model``, read its per-layer cost and time ``runs``
    inferences with the generated program's own ``--bench``."""
    from ..codegen import build
    from ..ir.stats import graph_stats
    from .classification.engine import host_project, load_graph
    graph = load_graph(model)
    stats = graph_stats(graph)
    program = build(host_project(model), "host")
    bench = json.loads(subprocess.run([str(program), "--bench", str(runs), "--json"],
                                      capture_output=True, text=True, check=True).stdout)
    total = bench["total"]
    latency = (f"median {total['median'] / 1e3:.3f} ms, p90 {total['p90'] / 1e3:.3f} ms on "
               f"{cpu_name()} (shared machine)")
    layers = "\n".join(f"| {s.name} | {s.op} | {'x'.join(map(str, s.shape[1:]))} {s.dtype} | "
                       f"{s.binary_macs:,} | {s.int8_macs:,} | {s.weight_bytes:,} |"
                       for s in stats)
    return Measurements(graph, sum(s.binary_macs for s in stats),
                        sum(s.int8_macs for s in stats), sum(s.weight_bytes for s in stats),
                        latency, layers)
