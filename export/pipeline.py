"""The exporter: a trained model in, a validated integer IR graph out."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import DataFileError, UnsupportedModelError
from ..ir.graph import Graph
from ..ir.serialize import validate
from .frontend import from_exported, require_finite
from .grids import TRAINED, stale_grids
from .loader import load_model, random_calibration
from .modelfile import ModelFile, _normalize_spec, _trace, calibration_problem
from .passes import (
    calibrate,
    equalize,
    fold_affine,
    fuse_activation,
    quantize,
    reorder_pool,
    tabulate,
)


class NoCalibrationWarning(UserWarning):
    """The model came without a calibration sample (the CLI names its own flag)."""


def simplify(graph: Graph) -> Graph:
    """Float-level folding, repeated until nothing changes."""
    while True:
        before = [(n.op, n.inputs, n.outputs) for n in graph.nodes]
        graph = fuse_activation(fold_affine(reorder_pool(graph)))
        if [(n.op, n.inputs, n.outputs) for n in graph.nodes] == before:
            return graph


def lower(calibrated: Graph, normalize: dict | None = None) -> Graph:
    """A calibrated float graph to integer ops, each int8 tensor on its grid (``tabulate``
    then merges chains of channel-wise stages into tables, rounding the same)."""
    return quantize(equalize(calibrated), normalize)


def export(model_or_path: torch.nn.Module | torch.export.ExportedProgram | ModelFile | str |
           Path,
           example_input: torch.Tensor | None = None,
           calibration: torch.Tensor | np.ndarray | None = None, *,
           normalize: tuple[Sequence[float], Sequence[float]] | None = None,
           labels: Sequence[str] | None = None, arch: str | None = None,
           trust_pickle: bool = False) -> Graph:
    """Trace, fold, calibrate and quantize a model into bnnkit's integer IR."""
    mf = _model_file(model_or_path, example_input, arch, trust_pickle)
    samples = calibration if calibration is not None else mf.calibration
    if samples is None:
        warnings.warn(NoCalibrationWarning(
            "no calibration data: INT8 ranges come from random inputs; pass calibration= "
            "(or save it in the model file) for real accuracy"), stacklevel=2)
        samples = random_calibration(mf.input_shape)
    samples = np.asarray(samples.detach().cpu() if isinstance(samples, torch.Tensor)
                         else samples)
    if problem := calibration_problem(samples):
        raise DataFileError(f"the calibration inputs {problem}; pass typical inputs shaped "
                            f"like the model's, e.g. {list(mf.input_shape)}")
    samples = samples.astype(np.float32)
    norm = mf.normalize
    if normalize is not None:
        norm = _normalize_spec(normalize, mf.input_shape[1] if len(mf.input_shape) == 4
                               else None)
    float_graph = simplify(from_exported(mf.program))
    if not float_graph.nodes:
        raise UnsupportedModelError("the model computes nothing: its output is its input "
                                    "(only identity layers such as Dropout); export a model "
                                    "with at least one layer")
    for node in float_graph.nodes:  # folding can overflow float32
        require_finite(node)
    if norm and len(mf.input_shape) != 4:
        raise UnsupportedModelError("normalize= applies to image inputs (N, C, H, W) only")
    graph = lower(calibrate(float_graph, samples), norm)
    if stale := stale_grids(graph):
        raise UnsupportedModelError(
            f"the model rounds {len(stale)} activations ({', '.join(stale[:3])}) to int8 grids "
            f"(bnnkit.nn.fake_int8) the export no longer gives them (its equalization "
            f"decided otherwise on the trained weights, or normalize= made the input uint8); "
            f"call fake_int8(model, calibration) again and fine-tune")
    graph = tabulate(graph)
    if not graph.nodes:   # only the input's sign: it became the input's bits encoding
        raise UnsupportedModelError("the model computes nothing but the sign of its input, "
                                    "which the C takes as its input encoding (bits); export "
                                    "a model with at least one layer after the sign")
    meta = {k: v for k, v in graph.meta.items() if k != TRAINED}
    meta["input"] = {**meta["input"], "normalize": norm}
    meta["labels"] = list(labels) if labels is not None else mf.labels
    out_shape = graph.tensors[graph.outputs[0]].shape         # NHWC
    named = {int(np.prod(out_shape)), out_shape[-1]}           # per output or per channel
    if meta["labels"] is not None and len(meta["labels"]) not in named:
        raise UnsupportedModelError(f"{len(meta['labels'])} labels for a model with "
                                    f"{int(np.prod(out_shape))} outputs in {out_shape[-1]} "
                                    f"channels; give one label per output or channel (or none)")
    graph = graph.with_(meta=meta)
    problems = validate(graph)
    if problems:  # a model past the IR's size limits (ir/limits.py), or a bnnkit bug
        raise UnsupportedModelError(
            "the exported graph is outside what bnnkit can run: " + "; ".join(problems[:3])
            + " (make the model or its input smaller; if it is within the limits of "
              "bnnkit/ir/limits.py, please report this as a bnnkit bug)")
    return graph


def _model_file(model: object, example_input: torch.Tensor | None, arch: str | None,
                trust_pickle: bool) -> ModelFile:
    if isinstance(model, ModelFile):
        return model
    if isinstance(model, str | Path):
        return load_model(model, arch=arch, example_input=example_input,
                          trust_pickle=trust_pickle)
    if example_input is None:
        raise ValueError("export(model) needs example_input to trace the model")
    program = _trace(model, example_input[:1])
    return ModelFile(program, (1, *example_input.shape[1:]))
