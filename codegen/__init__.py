"""Code generation: an INT-level IR graph to a standalone C99 project.

* ``planner``  tensor lifetimes and one static arena;
* ``lower``    per-op lowering: IR node -> plain integers for its template;
* ``emit``     renders the templates and writes the project directory;
* ``build``    runs the project's Makefile for a target preset.

The CLI calls ``write_project`` then, optionally, ``build``.
"""

from __future__ import annotations

from .build import build
from .emit import TARGETS, ProjectSummary, write_project
from .planner import Plan, plan_memory

__all__ = ["TARGETS", "Plan", "ProjectSummary", "build", "plan_memory", "write_project"]
