"""Compare PyTorch eval intermediates with the golden model's, tensor by tensor.

IR tensors keep the names of the torch.export nodes that produced them, so a
bits tensor named after a ``bnnkit.sign`` node can be checked against that
node's output, and int8 tensors against their node's float value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import bnnkit
from bnnkit import golden
from bnnkit.export.compare import torch_activations
from bnnkit.export.modelfile import _trace
from bnnkit.ir.graph import Graph


def torch_trace(model: torch.nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Every node's output of the traced program, NHWC, by node name."""
    return torch_activations(_trace(model, x[:1]), x.numpy())


@dataclass
class Report:
    bits_mismatch: dict[str, float]   # tensor -> fraction of differing bits
    int8_error: dict[str, np.ndarray]  # tensor -> |golden - torch| in output LSBs
    output_lsb: np.ndarray            # final output error in LSBs
    top1_agreement: float


def compare(model: torch.nn.Module, graph: Graph, x: torch.Tensor) -> Report:
    ref = torch_trace(model, x)
    trace = golden.run(graph, x.numpy(), trace=True)
    bits_mismatch, int8_error = {}, {}
    for name, value in trace.items():
        t = graph.tensors.get(name)
        if t is None or name not in ref or name == graph.inputs[0]:
            continue
        r = ref[name]
        if r.ndim == 2:  # torch flattened a feature map in C, H, W order
            n, h, w, c = value.shape
            r = r.reshape(n, c, h, w).transpose(0, 2, 3, 1)
        if t.dtype == "bits":
            bits_mismatch[name] = float(np.mean(value != (r < 0)))
        elif t.dtype == "int8":
            deq = golden.dequantize(value, t)
            int8_error[name] = np.abs(deq - _representable(r, t)) / t.quant.scale
    out = graph.tensors[graph.outputs[0]]
    y = golden.run(graph, x.numpy())
    with torch.no_grad():
        yt = model(x).numpy()
    scale = out.quant.scale if out.quant else 1.0
    if out.dtype == "int8":  # calibrated ranges clip; judge rounding, not clipping
        yt = _representable(yt, out)
    agree = float(np.mean(y.argmax(1) == yt.argmax(1))) if y.ndim == 2 else 1.0
    return Report(bits_mismatch, int8_error, np.abs(y - yt) / scale, agree)


def _representable(r: np.ndarray, t) -> np.ndarray:  # noqa: ANN001
    q = t.quant
    return np.clip(r, q.scale * (-128 - q.zero_point), q.scale * (127 - q.zero_point))


def export_and_compare(model: torch.nn.Module, x: torch.Tensor, n_cal: int) -> Report:
    graph = bnnkit.export(model, x[:1], calibration=x[:n_cal])
    return compare(model, graph, x[n_cal:])
