"""Where a whole inference's ARM instructions go, per op kind, against the floor.

One driver run per op kind and repetition count: every node runs once, except the
nodes of kind k, which run ``reps`` times. The difference between reps = K2 and
reps = K1 divided by K2 - K1 is the exact cost of all nodes of that kind (the
differential method of ``insns``), in 2 runs of about one inference each instead
of 2 per node: a 224x224 model under qemu stays affordable. ``ALL`` repeats the
whole inference (``<name>_run``).

The floor: 3 instructions per 128 binary MACs (EOR, CNT and one combining
step per 128-bit vector) plus 1 per 8 INT8 MACs (SMLAL on 8 lanes, armv8.0).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from ..ir.graph import Graph
from ..registry import kind_of
from . import insns

#: Op kinds of the breakdown, in table order (each op's kind is in its registry entry).
KINDS = ("binary conv", "INT8 conv", "INT8 x 1-bit conv", "ternary conv", "add", "threshold",
         "pool", "concat", "other")
ALL = insns.WHOLE      # the whole inference

FLOOR_PER_BINARY_MAC = 3 / 128
FLOOR_PER_INT8_MAC = 1 / 8



def driver_source(graph: Graph, name: str) -> str:
    legend = ", ".join(f"{i} {k}" for i, k in enumerate(KINDS))
    return insns.driver_source(name, [KINDS.index(kind_of(n.op)) for n in graph.nodes],
                               f"its op kind ({legend})")


def floor_instructions(binary_macs: int, int8_macs: int) -> float:
    return binary_macs * FLOOR_PER_BINARY_MAC + int8_macs * FLOOR_PER_INT8_MAC


def count_kinds(project: Path, graph: Graph, name: str, target: str, plugin: Path,
                cpu: str | None = None,
                progress: Callable[[str], None] | None = None
                ) -> tuple[dict[str, int], int, insns.Driver]:
    """Instructions per inference of each op kind present in ``graph`` on ``target``,
    and of the whole inference (every node once)."""
    present = [k for k in KINDS if any(kind_of(n.op) == k for n in graph.nodes)]
    with tempfile.TemporaryDirectory(prefix="bnnbench-") as tmp:
        driver = insns.build_driver(project, name, target, Path(tmp), cpu,
                                    source=driver_source(graph, name))
        per_kind = {}
        for kind in present:
            per_kind[kind] = insns.count_node(driver, plugin, KINDS.index(kind))
            if progress:
                progress(f"{target} {kind}")
        whole = insns.count_node(driver, plugin, ALL)
        driver = insns.Driver(driver.target, Path(driver.program.name), driver.compile_command)
    return per_kind, whole, driver
