"""``bnnkit.check(model, example_input)``: will this model export? Ask before training.

It traces the model as the exporter will, names every op the exporter
refuses (each with its line and the nearest supported alternative), then
runs the whole export on random calibration inputs, which also finds the
patterns that only the integer lowering refuses (a real-valued conv reading
binary activations, an add of bits, ...). Weights need not be trained.
"""

from __future__ import annotations

import warnings

import torch

from ..errors import UnsupportedModelError
from .frontend import refused_nodes, supported_text
from .loader import random_calibration
from .modelfile import ModelFile, _trace
from .pipeline import NoCalibrationWarning, export


def check(model: torch.nn.Module, example_input: torch.Tensor) -> None:
    """Return quietly if ``model`` exports to C; else raise UnsupportedModelError."""
    try:
        program = _trace(model, example_input[:1])
    except Exception as e:  # noqa: BLE001 - torch.export's own failures, in one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UnsupportedModelError(f"torch.export cannot trace the model: {first}") from None
    refused = refused_nodes(program)
    if refused:
        raise UnsupportedModelError(
            f"{len(refused)} op{'s' if len(refused) > 1 else ''} will not export: "
            f"{'; '.join(refused)}. Supported: {supported_text()}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoCalibrationWarning)
        shape = (1, *example_input.shape[1:])
        export(ModelFile(program, shape), calibration=random_calibration(shape))
