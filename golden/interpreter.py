"""The golden model: a numpy interpreter of the IR.

``run`` takes what the PyTorch model takes (float, NCHW or (N, features))
and returns what it returns, dequantized; ``run_int`` works on the raw
integer tensors (NHWC). Any batch size works; the IR's batch of 1 is what
the C code is built for.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import registry  # its entries hold this package's op functions: read at run time
from ..errors import InputShapeError
from ..ir.graph import Graph, Tensor
from ..runtime.layout import dequantize


def execute(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run every node; return every tensor by name (inputs included)."""
    values = dict(feeds)
    for node in graph.nodes:
        entry = registry.OPS.get(node.op)
        if entry is None:
            raise NotImplementedError(f"golden model has no op {node.op!r} (node {node.name})")
        xs = [values[i] for i in node.inputs]
        ts = [graph.tensors[i] for i in node.inputs]
        out = graph.tensors[node.outputs[0]]
        values[out.name] = entry.golden(node, xs, ts, out)
    return values


def run_int(graph: Graph, x: np.ndarray, trace: bool = False
            ) -> np.ndarray | dict[str, np.ndarray]:
    """Raw integers in (NHWC, the input tensor's dtype), raw integers out.

    With ``trace=True`` every intermediate tensor is returned by name, in
    schedule order, to localize a mismatch in generated code.
    """
    inp = graph.tensors[graph.inputs[0]]
    _check_shape(np.shape(x)[1:], inp.shape[1:], "run_int", "(N, H, W, C)")
    values = execute(graph, {inp.name: np.asarray(x)})
    if trace:
        return values
    return values[graph.outputs[0]]


def run(graph: Graph, x: np.ndarray, trace: bool = False
        ) -> np.ndarray | dict[str, np.ndarray]:
    """Float in, float out, shaped like the PyTorch model's input and output."""
    x = np.asarray(x, dtype=np.float64)
    q = quantize_input(graph, x)
    out = run_int(graph, q, trace=trace)
    if isinstance(out, dict):  # trace
        return out
    return dequantize_output(graph, out)


def to_nhwc(graph: Graph, x: np.ndarray) -> np.ndarray:
    torch_shape = tuple(graph.meta["input"]["torch_shape"][1:])
    _check_shape(x.shape[1:], torch_shape, "run", "(N, " + ", ".join(map(str, torch_shape)) + ")")
    if x.ndim == 4:
        return np.transpose(x, (0, 2, 3, 1))
    return x.reshape(x.shape[0], 1, 1, -1)


def quantize_input(graph: Graph, x: np.ndarray) -> np.ndarray:
    """The model's float input to the graph input tensor's representation."""
    inp = graph.tensors[graph.inputs[0]]
    x = to_nhwc(graph, x)
    normalize = graph.meta["input"].get("normalize")
    if inp.dtype == "uint8" and normalize:
        # Invert (pixel / 255 - mean) / std back to raw pixels.
        pixels = (x * np.asarray(normalize["std"]) + np.asarray(normalize["mean"])) * 255.0
        return np.clip(np.round(pixels), 0, 255).astype(np.uint8)
    return quantize(x, inp)


def quantize(x: np.ndarray, t: Tensor) -> np.ndarray:
    if t.dtype == "float32":
        return x.astype(np.float64)
    if t.dtype == "bits":
        return (x < 0).astype(np.uint8)
    assert t.quant is not None
    info = np.iinfo(np.int8 if t.dtype == "int8" else np.uint8)
    q = np.round(x / t.quant.scale) + t.quant.zero_point
    return np.clip(q, info.min, info.max).astype(info.dtype)


def dequantize_output(graph: Graph, q: np.ndarray) -> np.ndarray:
    out = graph.tensors[graph.outputs[0]]
    y = dequantize(q, out)
    rank = len(graph.meta["outputs"][0]["torch_shape"])
    if rank == 4:
        return np.transpose(y, (0, 3, 1, 2))
    return y.reshape(y.shape[0], -1)


def _check_shape(got: tuple, want: tuple, where: str, layout: str) -> None:
    if tuple(got) != tuple(want):
        raise InputShapeError(
            f"{where}: input has shape (N, {', '.join(map(str, got))}) but the model takes "
            f"{layout} = (N, {', '.join(map(str, want))}); resize or transpose the input")
