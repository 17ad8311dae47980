"""bnnkit: binary neural networks from PyTorch to standalone C99 on Raspberry Pi.

Public API::

    import bnnkit
    from bnnkit.nn import Sign, BinaryConv2d, BinaryLinear   # train
    bnnkit.check(model, example_input)                       # before training: exports?
    bnnkit.save(model, "model.pt", example_input, calibration=x_cal)
    graph = bnnkit.export("model.pt")                        # -> bnnkit.ir.Graph
    y = bnnkit.golden.run(graph, x)                          # reference output

Importing ``bnnkit`` does not import torch: the IR, the golden model and the
C runtime binding run on a device that has only numpy and cffi.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "check", "deploy", "errors", "export", "golden", "ir", "nn",
           "runtime", "save"]

_SUBPACKAGES = {"deploy", "errors", "golden", "ir", "nn", "runtime"}


def __getattr__(name: str) -> Any:
    if name == "save":
        from .export.modelfile import save
        return save
    if name == "check":
        from .export.check import check
        return check
    if name == "export":
        from .export.pipeline import export
        return export
    if name in _SUBPACKAGES:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'bnnkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
