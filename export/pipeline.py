"""The exporter: a trained model in, a validated integer IR graph out."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import UnsupportedModelError
from ..ir.graph import Graph
from ..ir.serialize import validate
from .frontend import from_exported
from .loader import load_model, random_calibration
from .modelfile import ModelFile, _normalize_spec, _trace
from .passes import calibrate, fold_affine, fuse_activation, quantize, reorder_pool


def simplify(graph: Graph) -> Graph:
    """Float-level folding, repeated until nothing changes."""
    while True:
        before = [(n.op, n.inputs, n.outputs) for n in graph.nodes]
        graph = fuse_activation(fold_affine(reorder_pool(graph)))
        if [(n.op, n.inputs, n.outputs) for n in graph.nodes] == before:
            return graph


def export(model_or_path: torch.nn.Module | torch.export.ExportedProgram | str | Path,
           example_input: torch.Tensor | None = None,
           calibration: torch.Tensor | np.ndarray | None = None, *,
           normalize: tuple[Sequence[float], Sequence[float]] | None = None,
           labels: Sequence[str] | None = None, arch: str | None = None,
           trust_pickle: bool = False) -> Graph:
    """Trace, fold, calibrate and quantize a model into bnnkit's integer IR."""
    mf = _model_file(model_or_path, example_input, arch, trust_pickle)
    samples = calibration if calibration is not None else mf.calibration
    if samples is None:
        warnings.warn("no calibration data: INT8 ranges come from random inputs; pass "
                      "calibration= (or save it in the model file) for real accuracy",
                      stacklevel=2)
        samples = random_calibration(mf.input_shape)
    samples = np.asarray(samples.detach().cpu() if isinstance(samples, torch.Tensor)
                         else samples, dtype=np.float32)
    norm = mf.normalize
    if normalize is not None:
        norm = _normalize_spec(normalize, mf.input_shape[1] if len(mf.input_shape) == 4
                               else None)
    float_graph = simplify(from_exported(mf.program))
    if not float_graph.nodes:
        raise UnsupportedModelError("the model computes nothing: its output is its input "
                                    "(only identity layers such as Dropout); export a model "
                                    "with at least one layer")
    if norm and len(mf.input_shape) != 4:
        raise UnsupportedModelError("normalize= applies to image inputs (N, C, H, W) only")
    graph = quantize(calibrate(float_graph, samples), norm)
    meta = dict(graph.meta)
    meta["input"] = {**meta["input"], "normalize": norm}
    meta["labels"] = list(labels) if labels is not None else mf.labels
    graph = graph.with_(meta=meta)
    problems = validate(graph)
    if problems:  # a bug in bnnkit, not in the user's model
        raise AssertionError("exporter produced an invalid graph: " + "; ".join(problems))
    return graph


def _model_file(model: object, example_input: torch.Tensor | None, arch: str | None,
                trust_pickle: bool) -> ModelFile:
    if isinstance(model, str | Path):
        return load_model(model, arch=arch, example_input=example_input,
                          trust_pickle=trust_pickle)
    if example_input is None:
        raise ValueError("export(model) needs example_input to trace the model")
    program = _trace(model, example_input[:1])
    return ModelFile(program, (1, *example_input.shape[1:]))
