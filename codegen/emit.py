"""The project writer: IR graph -> a standalone C99 project directory.

``write_project`` plans memory, lowers every node, renders the templates and
writes the whole directory at once (``ir.atomic.replace_dir``): a failure
leaves no half-written project. Same IR and arguments give the same bytes.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

# registry.py and the golden model import this package (a cycle): modules, not names
from .. import __version__, registry
from ..cruntime import reserved_prefixes
from ..errors import BnnkitError, UnsupportedModelError
from ..golden import interpreter
from ..ir import serialize
from ..ir.atomic import replace_dir
from ..ir.graph import Graph, Tensor
from ..runtime.layout import to_c_bytes
from . import bconv_gen32
from .bconv_gen import TileShape, template_args
from .bconv_tiles import TILE_CHANNELS
from .cformat import c_comment, c_float, c_values
from .lower import Context, NodeCode, lower_node
from .partition import MAX_THREADS, split_node, table
from .planner import ALIGN, Plan, plan_memory

TARGETS = ("host", "generic", "armv8", "armv7")
PLAN_FILE = "plan.json"
PLAN_FORMAT = "bnnkit-plan"
PLAN_VERSION = 1
C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto "
    "if inline int long register restrict return short signed sizeof static struct switch "
    "typedef union unsigned void volatile while main".split())


@dataclass(frozen=True)
class ProjectSummary:
    name: str
    target: str
    directory: Path
    layers: int
    binary_macs: int
    int8_macs: int
    weight_bytes: int
    arena_bytes: int
    lower_bound: int
    paths: dict[str, Path] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """Human-readable report for the CLI."""
        over = (self.arena_bytes / self.lower_bound - 1) * 100 if self.lower_bound else 0.0
        return [
            f"model {self.name}: {self.layers} layers, target {self.target}",
            f"  binary MACs {self.binary_macs:,}, INT8 MACs {self.int8_macs:,}",
            f"  weights {self.weight_bytes:,} bytes",
            f"  arena {self.arena_bytes:,} bytes (lower bound {self.lower_bound:,}, "
            f"+{over:.1f}%)",
            f"  project {self.directory}",
        ]


# -- templates -------------------------------------------------------------------------


def template_dir() -> Path:
    from .. import templates
    return Path(templates.__file__).parent


def runtime_dir() -> Path:
    from .. import cruntime
    return Path(cruntime.__file__).parent


@functools.cache  # one environment, so each template compiles once per process
def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False)
    env.filters["shape"] = lambda s: "{ " + ", ".join(str(int(v)) for v in s) + " }"
    env.filters["window"] = lambda w: "{ " + ", ".join(str(int(v)) for v in w) + " }"
    return env


# -- description -----------------------------------------------------------------------


def _dims(t: Tensor) -> str:
    return "x".join(str(d) for d in t.shape)


def _where(plan: Plan, t: Tensor) -> str:
    loc = plan.location(t.name)
    s = plan.slices.get(t.name)
    if s is not None:
        return (f"arena +{plan.placements[t.name].offset}: channels {s.offset}.. of "
                f"{c_comment(s.root)}'s {s.pitch}-channel pixels")
    if loc == "arena":
        return f"arena +{plan.placements[t.name].offset}, {t.nbytes()} bytes"
    return f"caller's {loc} buffer, {t.nbytes()} bytes"


def _attrs_line(code: NodeCode) -> str | None:
    p = code.params
    if "window" in p:
        kh, kw, sh, sw, top, left, bottom, right = p["window"]
        text = (f"kernel {kh}x{kw}, stride {sh}x{sw}, "
                f"padding top {top} left {left} bottom {bottom} right {right}")
        if "pad_mode" in p:
            text += f" ({p['pad_mode']})"
        if "groups" in p:
            text += f", groups {p['groups']}"
        if "dilation" in p:
            text += f", dilation {p['dilation'][0]}x{p['dilation'][1]}"
        if "count_include_pad" in code.node.attrs:
            text += f", count_include_pad {p['count_include_pad']}"
        return text
    return None


def node_comment(code: NodeCode, plan: Plan) -> list[str]:
    lines = [f"source: {c_comment(code.node.source) or '(none)'}"]
    attrs = _attrs_line(code)
    if attrs:
        lines.append(attrs)
    for t in code.inputs:
        lines.append(f"in:  {c_comment(t.name)}: {t.dtype} {_dims(t)} ({_where(plan, t)})")
    t = code.output
    lines.append(f"out: {c_comment(t.name)}: {t.dtype} {_dims(t)} ({_where(plan, t)})")
    if code.binary_macs:
        lines.append(f"MACs: {code.binary_macs} binary")
    elif code.int8_macs:
        lines.append(f"MACs: {code.int8_macs} int8")
    else:
        lines.append("MACs: 0")
    return lines


def render_node(env: jinja2.Environment, code: NodeCode, plan: Plan) -> str:
    unused = [n for n in ("input", "output", "arena") if n not in code.uses]
    split = split_node(code)
    return env.get_template(code.template).render(
        code=code, p=code.params, comment=node_comment(code, plan), unused=unused,
        split=split, shares=table(split), tile_channels=TILE_CHANNELS)


def render_tiles(env: jinja2.Environment, codes: list[NodeCode]) -> list[tuple[str, str]]:
    """The binary-conv tile of each window shape the binary convs use, for
    aarch64 (bconv_gen.py) and armv7 (bconv_gen32.py; "" for the shapes the
    runtime writes out), in order of first use, each naming its layers."""
    layers: dict[TileShape, list[str]] = {}
    for code in codes:
        if code.params.get("tile8"):
            layers.setdefault(code.params["tile8"], []).append(code.func)
    a64, a32 = env.get_template("bconv_tile8.c.j2"), env.get_template("bconv_tile8_a32.c.j2")
    out = []
    for shape, funcs in layers.items():
        args = template_args(shape, funcs)
        out.append((a64.render(t=args), "" if bconv_gen32.runtime_straight(shape) else
                    a32.render(t={**args, "a32": bconv_gen32.template_args(shape)})))
    return out


# -- data ------------------------------------------------------------------------------


def tensor_info(t: Tensor) -> dict[str, Any]:
    return {
        "name": t.name, "shape": list(t.shape), "dtype": t.dtype, "nbytes": t.nbytes(),
        "scale": c_float(t.quant.scale) if t.quant else "1.0f",
        "zero_point": t.quant.zero_point if t.quant else 0,
    }


def test_vector_inputs(graph: Graph, count_or_inputs: int | np.ndarray, seed: str
                       ) -> np.ndarray:
    """(K, H, W, C) inputs: given, or K random ones seeded by the IR hash."""
    t = graph.tensors[graph.inputs[0]]
    if not isinstance(count_or_inputs, int):
        x = np.asarray(count_or_inputs)
        if x.ndim != 4 or x.shape[1:] != t.shape[1:] or x.shape[0] < 1:
            raise BnnkitError(f"test vectors have shape {x.shape}, expected "
                              f"(K >= 1, {', '.join(map(str, t.shape[1:]))})")
        return x
    if count_or_inputs < 1:
        raise BnnkitError("need at least one test vector for --selftest")
    rng = np.random.default_rng(int(seed[:16], 16))
    shape = (count_or_inputs, *t.shape[1:])
    if t.dtype == "uint8":
        return rng.integers(0, 256, shape).astype(np.uint8)
    if t.dtype == "int8":
        return rng.integers(-128, 128, shape).astype(np.int8)
    if t.dtype == "bits":
        return rng.integers(0, 2, shape).astype(np.uint8)
    raise UnsupportedModelError(f"graph input {t.name} is {t.dtype}; generated C takes "
                                f"uint8, int8 or bits")


def view_segments(view: np.ndarray) -> list[dict[str, Any]]:
    """A view (slices.Layout) as runs of channels sharing one map: [first, end) and the
    value of each stored byte -128..127."""
    segments: list[dict[str, Any]] = []
    for c, row in enumerate(view.tolist()):
        if segments and segments[-1]["values"] == row:
            segments[-1]["channels"][1] = c + 1
        else:
            segments.append({"channels": [c, c + 1], "values": row})
    return segments


def plan_json(graph: Graph, plan: Plan, codes: list[NodeCode], name: str, ir_hash: str,
              weight_bytes: int) -> dict[str, Any]:
    tensors = {}
    for t_name in [graph.inputs[0], *(c.output.name for c in codes)]:
        t = graph.tensors[t_name]
        entry: dict[str, Any] = {
            "shape": list(t.shape), "dtype": t.dtype, "nbytes": t.nbytes(),
            "quant": None if t.quant is None else
            {"scale": t.quant.scale, "zero_point": t.quant.zero_point},
            "location": plan.location(t_name), "offset": None,
        }
        if t_name in plan.placements:
            p = plan.placements[t_name]
            entry.update(offset=p.offset, first=p.first, last=p.last)
        if t_name in plan.slices:
            entry["pitch"] = plan.slices[t_name].pitch  # bytes from one pixel to the next
        if t_name in plan.views:
            entry["view"] = view_segments(plan.views[t_name])
        tensors[t_name] = entry
    return {
        "format": PLAN_FORMAT, "version": PLAN_VERSION, "name": name,
        "generator": f"bnnkit {__version__}", "ir_hash": ir_hash, "alignment": ALIGN,
        "arena_bytes": plan.arena_bytes, "lower_bound": plan.lower_bound,
        "lower_bound_aligned": plan.lower_bound_aligned,
        "binary_macs": sum(c.binary_macs for c in codes),
        "int8_macs": sum(c.int8_macs for c in codes), "weight_bytes": weight_bytes,
        "input": graph.inputs[0], "output": graph.outputs[0],
        "tensors": tensors,
        "nodes": [{"index": c.index, "func": c.func, "name": c.node.name, "op": c.node.op,
                   "source": c.node.source, "inputs": list(c.node.inputs),
                   "output": c.output.name, "binary_macs": c.binary_macs,
                   "int8_macs": c.int8_macs} for c in codes],
    }


# -- the project -----------------------------------------------------------------------


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot prefix the generated C symbols and files, or None.

    Compared in any case: the upper-case name prefixes the macros, and
    ``Main.c`` is ``main.c`` on a case-insensitive file system."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", name):
        return "use up to 63 letters, digits and _, starting with a letter"
    if name.lower() in C_KEYWORDS:
        return "it is a C keyword or the program's main"
    prefix = name.split("_", 1)[0].lower()
    if prefix in reserved_prefixes():
        return f"names starting with {prefix}_ (in any case) belong to bnnkit's C runtime"
    return None


def default_name(stem: str) -> str:
    """A usable C name made from a file name (``my-model.pt`` -> ``my_model``)."""
    name = "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in stem.lower())
    name = name.strip("_")[:60] or "model"
    return f"m_{name}" if name_problem(name) else name


def check_name(name: str) -> None:
    if problem := name_problem(name):
        raise BnnkitError(f"model name {name!r} is not usable as a C symbol prefix: "
                          f"{problem}; pass another --name")


def check_arguments(graph: Graph, name: str, target: str, cpu: str | None) -> None:
    check_name(name)
    if target not in TARGETS:
        raise BnnkitError(f"unknown target {target!r}; use one of {', '.join(TARGETS)}")
    if cpu is not None and not re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", cpu):
        raise BnnkitError(f"cpu {cpu!r} is not a compiler CPU name (e.g. cortex-a72)")
    if graph.is_float():
        raise UnsupportedModelError("the graph still has float ops; generate C from the "
                                    "integer IR that the full export produces")
    problems = serialize.validate(graph)
    if problems:
        raise UnsupportedModelError("invalid IR: " + "; ".join(problems[:5]))


def write_project(graph: Graph, out_dir: str | Path, *, target: str = "host",
                  name: str = "model", cpu: str | None = None, command_line: str = "",
                  test_vectors: int | np.ndarray = 3) -> ProjectSummary:
    """Write the C project of ``graph`` into ``out_dir`` (replaced whole)."""
    check_arguments(graph, name, target, cpu)
    files = render_project(graph, target=target, name=name, cpu=cpu,
                           command_line=command_line, test_vectors=test_vectors)
    runtime_files = sorted(p for p in runtime_dir().iterdir()
                           if p.suffix in (".c", ".h") and p.is_file())

    def fill(tmp: Path) -> None:
        for rel, text in files.items():
            (tmp / rel).write_text(text)
        (tmp / "runtime").mkdir()
        for src in runtime_files:
            shutil.copyfile(src, tmp / "runtime" / src.name)
        serialize.save(graph, tmp / "ir")

    out = replace_dir(Path(out_dir), fill, kind="project")
    plan = json.loads(files[PLAN_FILE])
    paths = {"header": out / f"{name}.h", "source": out / f"{name}.c",
             "weights": out / f"{name}_weights.c", "main": out / "main.c",
             "makefile": out / "Makefile", "plan": out / PLAN_FILE, "ir": out / "ir",
             "runtime": out / "runtime"}
    return ProjectSummary(name=name, target=target, directory=out, layers=len(graph.nodes),
                          binary_macs=plan["binary_macs"], int8_macs=plan["int8_macs"],
                          weight_bytes=plan["weight_bytes"], arena_bytes=plan["arena_bytes"],
                          lower_bound=plan["lower_bound"], paths=paths)


def lower_graph(graph: Graph, plan: Plan, prefix: str) -> list[NodeCode]:
    """Lower every node of an INT-level graph through its registry entry, in schedule order."""
    ctx = Context(graph, plan, prefix)
    codes = []
    for index, node in enumerate(graph.nodes):
        entry = registry.OPS.get(node.op)
        if entry is None or entry.lowering is None:
            where = f" (from {node.source})" if node.source else ""
            raise UnsupportedModelError(
                f"node {node.name}{where}: op {node.op!r} has no C lowering; generated C "
                f"takes integer ops only ({', '.join(registry.LOWERED_OPS)}); run the full export")
        macs = entry.macs(graph, node)
        codes.append(lower_node(ctx, index, node, entry.lowering, macs.binary, macs.int8))
    return codes


def render_project(graph: Graph, *, target: str, name: str, cpu: str | None,
                   command_line: str, test_vectors: int | np.ndarray) -> dict[str, str]:
    """Every generated text file of the project, by relative path (runtime and IR aside)."""
    ir_hash = serialize.graph_hash(graph)
    plan = plan_memory(graph)
    codes = lower_graph(graph, plan, name)
    env = make_env()
    arrays = [a for c in codes for a in c.arrays]
    # bytes in every build; guarded arrays (aarch64's tile-order copies) come on top
    weight_bytes = sum(int(a.values.nbytes) for a in arrays if not a.guard)
    provenance = [f"Generated by bnnkit {__version__} from IR sha256:{ir_hash}.",
                  f"Command: {c_comment(command_line) or '(library call)'}",
                  "Do not edit: regenerate from the model instead."]
    common = {"name": name, "NAME": name.upper(), "provenance": provenance}
    t_in, t_out = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]

    inputs = test_vector_inputs(graph, test_vectors, ir_hash)
    outputs = interpreter.run_int(graph, inputs)
    assert isinstance(outputs, np.ndarray)
    tv_in = [c_values(np.frombuffer(to_c_bytes(x, t_in), np.uint8), "bytes", " " * 8)
             for x in inputs]
    tv_out = [c_values(np.frombuffer(to_c_bytes(y, t_out), np.uint8), "bytes", " " * 8)
              for y in outputs]

    weight_items = [{"name": a.name, "ctype": a.ctype, "size": int(a.values.size),
                     "guard": a.guard, "body": c_values(a.values, a.ctype)} for a in arrays]
    files = {
        f"{name}.h": env.get_template("model.h.j2").render(
            **common, arena_size=plan.arena_bytes, num_nodes=len(codes),
            max_threads=MAX_THREADS,
            input=tensor_info(t_in), output=tensor_info(t_out)),
        f"{name}.c": env.get_template("model.c.j2").render(
            **common, codes=codes, nodes=[render_node(env, c, plan) for c in codes],
            tiles=render_tiles(env, codes),
            arena_size=plan.arena_bytes, lower_bound=plan.lower_bound,
            input_align=8 if t_in.dtype == "bits" else 1,
            output_align=8 if t_out.dtype == "bits" else 1),
        f"{name}_weights.h": env.get_template("weights.h.j2").render(**common, arrays=arrays),
        f"{name}_weights.c": env.get_template("weights.c.j2").render(
            **common, arrays=weight_items, weight_bytes=weight_bytes),
        f"{name}_testvectors.h": env.get_template("testvectors.h.j2").render(
            **common, count=len(inputs)),
        f"{name}_testvectors.c": env.get_template("testvectors.c.j2").render(
            **common, count=len(inputs), inputs=tv_in, outputs=tv_out),
        "main.c": env.get_template("main.c.j2").render(**common),
        "Makefile": env.get_template("Makefile.j2").render(
            **common, target=target, cpu=cpu or "",
            model_sources=[f"{name}.c", f"{name}_weights.c"],
            app_sources=["main.c", f"{name}_testvectors.c"],
            headers=[f"{name}.h", f"{name}_weights.h", f"{name}_testvectors.h"]),
    }
    files[PLAN_FILE] = json.dumps(plan_json(graph, plan, codes, name, ir_hash, weight_bytes),
                                  indent=1, sort_keys=False) + "\n"
    return files
