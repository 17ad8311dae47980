"""Host binding of a generated C project: ``CModel`` (numpy + cffi, no torch).

    from bnnkit.runtime import CModel
    model = CModel("out/mymodel")          # compiles a host shared library
    y = model(x)                           # float in, float out, like PyTorch
    q_out = model.run_int(q_in)            # raw integers, NHWC
    where = model.first_mismatch(q_in)     # first node that differs from golden
"""

from __future__ import annotations

from .cmodel import CModel, Mismatch, compile_library

__all__ = ["CModel", "Mismatch", "compile_library"]
