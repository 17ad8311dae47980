"""Record the value range of every float tensor over a calibration set.

The float graph runs in the golden model's float semantics, which match
PyTorch eval mode, so no torch is needed here. Ranges go into
``meta["ranges"]``; the graph is otherwise unchanged. A tensor the model
rounds itself (``bnnkit.nn.fake_int8``, recorded by the frontend) keeps the
range its grid was made from, so the export stores it on that grid.
"""

from __future__ import annotations

import numpy as np

from ...golden.interpreter import execute, to_nhwc
from ...ir.graph import Graph
from ...progress import bar

BATCH = 64
#: graph.meta key: the grids (and ranges) a model rounds to itself, by tensor
TRAINED = "fake_int8"


def calibrate(graph: Graph, samples: np.ndarray) -> Graph:
    """``samples``: float inputs shaped like the PyTorch model's input."""
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    name = graph.inputs[0]
    starts = range(0, len(samples), BATCH)
    # A progress bar only where calibration takes a while (a few batches).
    for start in bar(starts, "calibrating", "batch") if len(starts) >= 4 else starts:
        x = to_nhwc(graph, np.asarray(samples[start:start + BATCH], dtype=np.float64))
        for tname, value in execute(graph, {name: x}).items():
            if graph.tensors[tname].dtype != "float32":
                continue
            lo[tname] = min(lo.get(tname, np.inf), float(np.min(value)))
            hi[tname] = max(hi.get(tname, -np.inf), float(np.max(value)))
    ranges = {k: [lo[k], hi[k]] for k in sorted(lo)}
    for k, trained in graph.meta.get(TRAINED, {}).items():
        if k in ranges:
            ranges[k] = list(trained["range"])
    return graph.with_(meta={**graph.meta, "ranges": ranges})
