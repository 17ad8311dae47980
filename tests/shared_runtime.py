"""A generated project's program, with the C runtime compiled once for every project.

Each project carries the same runtime sources, and its Makefile compiles them
again on every build: 12-15 s of CPU for a cross target, against under a
second for the model's own files. Tests that build many projects compile the
runtime once per target (the campaign's ``cbatch.runtime_objects``, shared by
the test workers) and then each project's model and ``main.c``, with the
compiler, flags (-Werror included) and link flags its own Makefile uses for
that target (the ``runtime_cache`` fixture, in ``conftest.py``, is where the
runtime goes). The Makefile build itself is tested by the tests that call
``codegen.build`` (threads, bnn-export, bnn-deploy, the selftest that fails).
The same goes for the host shared library ``CModel`` loads (``host_library``):
``compile_library`` itself is tested by the tests that call ``CModel(project)``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from bnnkit.codegen.build import check_compiler
from bnnkit.errors import ToolchainError
from bnnkit.runtime.cmodel import host_cflags

from .campaign import cbatch


def program(project: Path, target: str, cache: Path) -> Path:
    """What ``codegen.build(project, target, strict=True)`` builds, the runtime precompiled."""
    check_compiler(target)
    flags = cbatch.makefile_flags(project, target)
    runtime = cbatch.runtime_objects(flags, cache, project / "runtime")
    sources = subprocess.run(
        ["make", "-s", "--no-print-directory", f"TARGET={target}",
         "--eval=print-sources: ; @echo $(NAME) $(MODEL_SOURCES) $(APP_SOURCES)",
         "print-sources"], cwd=project, capture_output=True, text=True,
        check=True).stdout.split()
    out = project / "build" / target
    out.mkdir(parents=True, exist_ok=True)
    _link([flags.cc, *flags.cflags, "-o", str(out / sources[0]), *sources[1:],
           *map(str, runtime), *flags.ldflags], project, f"for {target}")
    return out / sources[0]


def host_library(project: Path, cache: Path) -> Path:
    """What ``compile_library(project)`` builds (its compiler and flags), the runtime
    precompiled: load it with ``CModel(project, library=...)``."""
    compiler, flags = os.environ.get("CC") or "cc", host_cflags()
    runtime = cbatch.runtime_objects(
        cbatch.Flags(compiler, [f for f in flags if f != "-shared"], []), cache,
        project / "runtime")
    name = json.loads((project / "plan.json").read_text())["name"]
    library = project / "build" / "cffi" / f"lib{name}.so"
    library.parent.mkdir(parents=True, exist_ok=True)
    _link([compiler, *flags, "-o", str(library), f"{name}.c", f"{name}_weights.c",
           *map(str, runtime)], project, "as a host library")
    return library


def _link(command: list[str], project: Path, what: str) -> None:
    """Compile the project's own sources and link them with the precompiled runtime."""
    proc = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise ToolchainError(f"building {project} {what} failed:\n{proc.stderr.strip()}")
