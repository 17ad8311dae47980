"""Host side: model file -> IR -> built C project, cached (needs torch for the export).

``~/.cache/bnnkit/demos/ir/<sha256 of model file>/``  the exported IR
``~/.cache/bnnkit/demos/c/<IR hash>/host/``            the generated, built project

The export (calibration included) runs once per model file, the C build
once per IR; later runs load the cached project in a fraction of a second.
Both are made in private folders and renamed into place, so two demos
started at once never read or build into a half-written cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ...errors import ModelFileError
from .presets import PRESETS

CACHE = Path(os.environ.get("BNNKIT_CACHE", Path.home() / ".cache" / "bnnkit")) / "demos"


def resolve_model(spec: str) -> Path:
    """A shipped model's name (PRESETS) | PATH (a model.pt, an IR directory or a
    generated project)."""
    if spec in PRESETS:
        path = PRESETS[spec].model
        if not path.exists():
            raise ModelFileError(f"{path}: the shipped {spec} model is missing; re-create it "
                                 f"with python -m bnnkit.demos.classification."
                                 f"{PRESETS[spec].train}")
        return path
    path = Path(spec)
    if not path.exists():
        raise ModelFileError(f"model {spec}: no such file; use {', '.join(PRESETS)} or the "
                             f"path of a model.pt written by bnnkit.save")
    return path


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _made_once(final: Path, done: str, make: Callable[[Path], None]) -> None:
    """``make(folder)`` into a private folder beside ``final``, then renamed to it;
    if another process got there first (``final/done`` exists), its copy stays and
    ours is removed; a ``final`` without ``done`` (an older, unfinished run) is
    replaced."""
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        make(partial)
        if final.exists() and not (final / done).exists():
            shutil.rmtree(final, ignore_errors=True)
        try:
            partial.rename(final)
        except OSError:
            if not (final / done).exists():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def load_graph(model: Path, cache: Path = CACHE):  # noqa: ANN201 - bnnkit.ir.Graph
    from ... import ir
    if model.is_dir():
        return ir.load(model)
    ir_dir = cache / "ir" / _file_hash(model)
    if not (ir_dir / "graph.json").exists():
        from ...export.pipeline import export
        print(f"bnn-demo: exporting {model} (once; cached in {ir_dir})", flush=True)
        graph = export(model)
        # two demos exporting the same model at once: the first rename wins
        _made_once(ir_dir, "graph.json", lambda folder: ir.save(graph, folder))
    return ir.load(ir_dir)


def host_project(model: str | Path, cache: Path = CACHE, name: str | None = None) -> Path:
    """The built host C project of ``model`` (exported and built on first use)."""
    model = Path(model)
    if model.is_dir() and (model / "Makefile").exists():
        return model               # already a generated project (no torch, no jinja2 needed)
    from ... import ir
    from ...codegen import build, write_project
    from ...codegen.emit import default_name
    graph = load_graph(model, cache)
    project = cache / "c" / ir.graph_hash(graph)[:16] / "host"
    name = name or default_name(model.stem)
    if not (project / ".built").exists():
        print(f"bnn-demo: generating and building C in {project} (once)", flush=True)

        def make(folder: Path) -> None:
            write_project(graph, folder, target="host", name=name,
                          command_line=f"bnn-demo classify {model}")
            build(folder, "host")
            (folder / ".built").write_text("ok\n")
        _made_once(project, ".built", make)
    return project
