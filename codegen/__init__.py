"""Code generation: an INT-level IR graph to a standalone C99 project.

* ``planner``  tensor lifetimes and one static arena;
* ``lower``    per-op lowering: IR node -> plain integers for its template;
* ``emit``     renders the templates and writes the project directory;
* ``build``    runs the project's Makefile for a target preset.

The CLI calls ``write_project`` then, optionally, ``build``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .build import build
    from .emit import TARGETS, ProjectSummary, write_project
    from .planner import Plan, plan_memory

__all__ = ["TARGETS", "Plan", "ProjectSummary", "build", "plan_memory", "write_project"]

_MODULE_OF = {"build": "build", "TARGETS": "emit", "ProjectSummary": "emit",
              "write_project": "emit", "Plan": "planner", "plan_memory": "planner"}


def __getattr__(name: str) -> Any:
    # Imported on first use: the golden model reaches codegen.lower through the op
    # registry, and emit imports the golden model (for test vectors) and jinja2.
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
