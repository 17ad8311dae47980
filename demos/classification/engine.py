"""Host side: model file -> IR -> built C project, cached (needs torch for the export).

``~/.cache/bnnkit/demos/ir/<sha256 of model file>/``  the exported IR
``~/.cache/bnnkit/demos/c/<IR hash>/host/``            the generated, built project

The export (calibration included) runs once per model file, the C build
once per IR; later runs load the cached project in a fraction of a second.
"""

from __future__ import annotations

import hashlib
import os
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


def load_graph(model: Path, cache: Path = CACHE):  # noqa: ANN201 - bnnkit.ir.Graph
    from ... import ir
    if model.is_dir():
        return ir.load(model)
    ir_dir = cache / "ir" / _file_hash(model)
    if not (ir_dir / "graph.json").exists():
        from ...export.pipeline import export
        print(f"bnn-demo: exporting {model} (once; cached in {ir_dir})", flush=True)
        ir.save(export(model), ir_dir)
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
    stamp = project / ".built"
    if not stamp.exists():
        print(f"bnn-demo: generating and building C in {project} (once)", flush=True)
        write_project(graph, project, target="host", name=name,
                      command_line=f"bnn-demo classify {model}")
        build(project, "host")
        stamp.write_text("ok\n")
    return project
