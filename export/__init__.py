"""The exporter: trained PyTorch model -> bnnkit integer IR.

``bnnkit.export(model_or_path, example_input=None, calibration=None)`` is this
package called as a function (see pipeline.export); its modules are the
steps: modelfile/loader (reading), frontend (torch.export -> float IR),
passes/ (pure graph -> graph rewrites), pipeline (the order).
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    """Lets ``bnnkit.export(...)`` call the exporter although ``bnnkit.export``
    is also this package."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .pipeline import export
        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
