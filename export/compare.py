"""The PyTorch program against the golden model: whole outputs, and layer by layer.

IR tensors keep the names of the torch.export nodes that produced them (a
fused BatchNorm + sign is named after its sign, a moved pool after what it
moved past), so every IR node's output can be set beside the PyTorch
activation of the same name: bits against PyTorch's signs, int8 tensors
dequantized against PyTorch's floats.

Each node is measured twice. *Whole model*: the golden model run from the
input, so the error is everything lost up to that node. *Alone*: the node
run on PyTorch's own activations (quantized to the node's input tensors),
so the error is what this node adds; a layer with a badly calibrated range
stands out there even when everything after it inherits its error. Both
are given as an SNR in dB (bits as +-1 values: 4 x mismatch rate is their
noise power), beside the natural measure: the fraction of differing signs
for bits, the RMS error in output steps (LSB) for int8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..golden.interpreter import dequantize, execute, quantize, quantize_input
from ..ir.graph import Graph, Tensor
from ..registry import OPS
from .passes.equalize import channel_factors

BATCH = 256


def torch_inputs(graph: Graph, images: np.ndarray) -> np.ndarray:
    """What the PyTorch program takes: float images as they are, or uint8 pixels
    (N, H, W[, C]) normalized with the model's (mean, std), NCHW."""
    if images.dtype != np.uint8:
        return images.astype(np.float32)
    norm = graph.meta["input"].get("normalize")
    if not norm:
        from ..errors import InputShapeError
        raise InputShapeError("uint8 pixels are for models saved with normalize=(mean, std); "
                              "this one takes float inputs like the PyTorch model")
    pixels = images[..., None] if images.ndim == 3 else images
    x = (pixels / 255.0 - np.asarray(norm["mean"])) / np.asarray(norm["std"])
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)


def torch_outputs(program: torch.export.ExportedProgram, x: np.ndarray) -> np.ndarray:
    """The PyTorch program's outputs, in batches."""
    module = program.module()
    outs = []
    with torch.no_grad():
        for start in range(0, len(x), BATCH):
            outs.append(module(torch.from_numpy(x[start:start + BATCH])).numpy())
    return np.concatenate(outs)


def torch_activations(program: torch.export.ExportedProgram, x: np.ndarray
                      ) -> dict[str, np.ndarray]:
    """Every node's output of the program by node name, feature maps NHWC."""
    values: dict[str, list[np.ndarray]] = {}
    batch = [0]

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: torch.fx.Node) -> object:
            out = super().run_node(n)
            if isinstance(out, torch.Tensor) and out.ndim and len(out) == batch[0]:
                v = out.detach().numpy()
                values.setdefault(n.name, []).append(
                    np.transpose(v, (0, 2, 3, 1)) if v.ndim == 4 else v)
            return out

    module = program.module()
    with torch.no_grad():
        for start in range(0, len(x), BATCH):
            batch[0] = len(x[start:start + BATCH])
            Recorder(module).run(torch.from_numpy(x[start:start + BATCH]))
    return {k: np.concatenate(v) for k, v in values.items()}


@dataclass(frozen=True)
class Error:
    measure: float      # bits: fraction of signs unlike PyTorch's; int8: RMS error in LSB
    snr_db: float       # PyTorch's activation power over the error's (inf: no error)


@dataclass(frozen=True)
class LayerError:
    node: str
    op: str
    dtype: str          # of the node's output: "bits" or "int8"
    source: str         # the model line that made it
    whole: Error        # golden model run from the input
    alone: Error | None  # this node on PyTorch's activations (None: an input has no twin)


def layer_errors(program: torch.export.ExportedProgram, graph: Graph, x: np.ndarray
                 ) -> list[LayerError]:
    """Every IR node with a PyTorch twin, the one that adds most error first."""
    x = np.asarray(x, dtype=np.float32)
    ref = torch_activations(program, x)
    raw_input = quantize_input(graph, x.astype(np.float64))
    golden = execute(graph, {graph.inputs[0]: raw_input})
    twins = {name: _twin(graph, name, ref, x) for name in golden}
    rows = []
    for node in graph.nodes:
        out = graph.tensors[node.outputs[0]]
        want = twins[out.name]
        if want is None or out.dtype not in ("bits", "int8"):
            continue
        alone = None
        inputs = [raw_input if i == graph.inputs[0] else
                  None if twins[i] is None else quantize(twins[i], graph.tensors[i])
                  for i in node.inputs]
        if all(v is not None for v in inputs):
            golden_op = OPS[node.op].golden
            got = golden_op(node, inputs, [graph.tensors[i] for i in node.inputs], out)
            alone = _error(got, want, out)
        rows.append(LayerError(node.name, node.op, out.dtype, node.source,
                               _error(golden[out.name], want, out), alone))
    return sorted(rows, key=lambda r: (r.alone.snr_db if r.alone else math.inf,
                                       r.whole.snr_db))


def _twin(graph: Graph, name: str, ref: dict[str, np.ndarray], x: np.ndarray
          ) -> np.ndarray | None:
    """PyTorch's value of IR tensor ``name`` in its layout (N, H, W, C), if it has one."""
    if name == graph.inputs[0]:
        return None
    producer = graph.producer(name)
    if (producer is not None and producer.op == "lut"  # the normalized input
            and graph.tensors[producer.inputs[0]].dtype == "uint8"):
        r = np.transpose(x, (0, 2, 3, 1)) if x.ndim == 4 else x
    elif name in ref:
        r = ref[name]
    else:
        return None
    n, h, w, c = (len(r), *graph.tensors[name].shape[1:])
    if r.ndim == 2:  # flattened in C, H, W order
        r = r.reshape(n, c, h, w).transpose(0, 2, 3, 1)
    if r.shape != (n, h, w, c):
        return None
    # the channels equalize widened by a power of two (exact), widened here too
    return r.astype(np.float64) * channel_factors(graph, name)


def _error(got: np.ndarray, want: np.ndarray, t: Tensor) -> Error:
    if t.dtype == "bits":
        rate = float(np.mean(got != (want < 0)))
        return Error(rate, _db(1.0, 4.0 * rate))
    diff = dequantize(got, t).astype(np.float64) - want
    power = float(np.mean(want ** 2))
    noise = float(np.mean(diff ** 2))
    return Error(math.sqrt(noise) / t.quant.scale, _db(power, noise))


def _db(signal: float, noise: float) -> float:
    if noise == 0.0:
        return math.inf
    return 10.0 * math.log10(max(signal, 1e-30) / noise)


def table(rows: list[LayerError]) -> str:
    """The report as text, worst layer first."""
    def err(e: Error | None, dtype: str) -> tuple[str, str]:
        if e is None:
            return "-", "-"
        measure = f"{e.measure:.2%} signs" if dtype == "bits" else f"{e.measure:.2f} LSB"
        return measure, "exact" if math.isinf(e.snr_db) else f"{e.snr_db:.1f} dB"

    head = ("#", "node", "op", "alone", "SNR", "whole model", "SNR", "source")
    body = [(str(i + 1), r.node, f"{r.op} {r.dtype}", *err(r.alone, r.dtype),
             *err(r.whole, r.dtype), r.source) for i, r in enumerate(rows)]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head) - 1)]
    lines = []
    for k, row in enumerate([head, *body]):
        cells = [c.rjust(wd) if i in (0, 3, 4, 5, 6) else c.ljust(wd)
                 for i, (c, wd) in enumerate(zip(row, widths, strict=False))]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
        if k == 0:
            lines.append("  ".join("-" * wd for wd in widths))
    return "\n".join(lines)


def plot(rows: list[LayerError], path: Path) -> Path | None:
    """Bar chart of the SNRs, worst layer on top; None when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    order = rows
    cap = 60.0  # exact layers are drawn at the cap

    def snr(e: Error | None) -> float:
        return 0.0 if e is None else min(e.snr_db, cap)

    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(order) + 1.5))
    ax.barh(y - 0.2, [snr(r.alone) for r in order], 0.4, label="this layer alone")
    ax.barh(y + 0.2, [snr(r.whole) for r in order], 0.4, label="whole model up to it")
    ax.set_yticks(y, [f"{r.node} ({r.op})" for r in order])
    ax.invert_yaxis()
    ax.set_xlabel(f"SNR against PyTorch, dB (higher is better; exact drawn at {cap:.0f})")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
