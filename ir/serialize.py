"""IR on disk: ``graph.json`` + ``weights.npz``, versioned and validated.

Writing goes to a temporary directory that replaces the target in one
rename, so a failed write never leaves half an IR behind. Loading never
unpickles (``allow_pickle=False``) and rejects a damaged or foreign file
with a message that says what is wrong.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IRFormatError
from .atomic import replace_dir
from .graph import DTYPES, Graph, Node, Quant, Tensor
from .ops import SPECS

FORMAT = "bnnkit-ir"
VERSION = 1
GRAPH_FILE = "graph.json"
WEIGHTS_FILE = "weights.npz"


def to_json(graph: Graph) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "meta": graph.meta,
        "inputs": list(graph.inputs),
        "outputs": list(graph.outputs),
        "tensors": [
            {"name": t.name, "shape": list(t.shape), "dtype": t.dtype,
             "quant": None if t.quant is None else
             {"scale": t.quant.scale, "zero_point": t.quant.zero_point}}
            for t in graph.tensors.values()
        ],
        "nodes": [
            {"name": n.name, "op": n.op, "inputs": list(n.inputs), "outputs": list(n.outputs),
             "attrs": dict(n.attrs), "arrays": sorted(n.arrays), "source": n.source}
            for n in graph.nodes
        ],
    }


def dumps(graph: Graph) -> tuple[bytes, bytes]:
    """Deterministic bytes of graph.json and weights.npz."""
    text = json.dumps(to_json(graph), indent=1, default=_json_default) + "\n"
    arrays = {f"{n.name}/{k}": np.ascontiguousarray(v) for n in graph.nodes
              for k, v in sorted(n.arrays.items())}
    buf = io.BytesIO()
    # Fixed timestamps so the same graph gives the same bytes.
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            entry = io.BytesIO()
            np.lib.format.write_array(entry, arr, allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entry.getvalue())
    return text.encode(), buf.getvalue()


def graph_hash(graph: Graph) -> str:
    graph_bytes, weight_bytes = dumps(graph)
    return hashlib.sha256(graph_bytes + weight_bytes).hexdigest()


def save(graph: Graph, directory: str | Path) -> Path:
    """Write the IR into ``directory`` (replaced whole, never half-written)."""
    graph_bytes, weight_bytes = dumps(graph)

    def fill(tmp: Path) -> None:
        (tmp / GRAPH_FILE).write_bytes(graph_bytes)
        (tmp / WEIGHTS_FILE).write_bytes(weight_bytes)

    return replace_dir(Path(directory), fill, kind="ir")


def load(directory: str | Path) -> Graph:
    """Read and validate an IR directory written by ``save``."""
    directory = Path(directory)
    gpath, wpath = directory / GRAPH_FILE, directory / WEIGHTS_FILE
    for p in (gpath, wpath):
        if not p.is_file():
            raise IRFormatError(f"{directory}: no {p.name}; is this a bnnkit IR directory "
                                f"(written by `bnn-export --ir-only -o DIR`)?")
    try:
        doc = json.loads(gpath.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IRFormatError(f"{gpath}: not valid JSON ({e}); re-export the model") from None
    try:
        with np.load(wpath, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as e:  # zipfile, ValueError: any damage reads as one message
        raise IRFormatError(f"{wpath}: damaged weights file ({e}); re-export the model") from None
    return from_json(doc, arrays, str(gpath))


def from_json(doc: Any, arrays: dict[str, np.ndarray], where: str = "graph.json") -> Graph:
    def bad(msg: str) -> IRFormatError:
        return IRFormatError(f"{where}: {msg}")

    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad(f"not a bnnkit IR file (expected \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise bad(f"IR format version {doc.get('version')!r}, this bnnkit reads version "
                  f"{VERSION}; re-export the model with this bnnkit")
    try:
        tensors = {}
        for t in doc["tensors"]:
            q = t.get("quant")
            tensors[t["name"]] = Tensor(t["name"], tuple(int(d) for d in t["shape"]),
                                        t["dtype"], None if q is None else
                                        Quant(float(q["scale"]), int(q["zero_point"])))
        nodes = []
        for n in doc["nodes"]:
            node_arrays = {}
            for role in n["arrays"]:
                key = f"{n['name']}/{role}"
                if key not in arrays:
                    raise bad(f"node {n['name']}: array {role!r} is missing from weights.npz")
                node_arrays[role] = arrays[key]
            nodes.append(Node(n["name"], n["op"], tuple(n["inputs"]), tuple(n["outputs"]),
                              dict(n["attrs"]), node_arrays, n.get("source", "")))
        graph = Graph(tensors, tuple(nodes), tuple(doc["inputs"]), tuple(doc["outputs"]),
                      dict(doc.get("meta", {})))
    except (KeyError, TypeError, ValueError) as e:
        raise bad(f"malformed IR ({type(e).__name__}: {e})") from None
    problems = validate(graph)
    if problems:
        raise bad("invalid IR: " + "; ".join(problems[:5]))
    return graph


def validate(graph: Graph) -> list[str]:
    """Every inconsistency found, as messages (empty when the graph is sound)."""
    problems: list[str] = []
    for t in graph.tensors.values():
        if len(t.shape) != 4 or any(d < 1 for d in t.shape):
            problems.append(f"tensor {t.name}: shape {t.shape} is not 4-D NHWC")
        if t.dtype not in DTYPES:
            problems.append(f"tensor {t.name}: unknown dtype {t.dtype!r}")
        if t.dtype in ("int8", "uint8") and (t.quant is None or not t.quant.scale > 0):
            problems.append(f"tensor {t.name}: {t.dtype} needs quantization parameters")
    defined = set(graph.inputs)
    for name in graph.inputs:
        if name not in graph.tensors:
            problems.append(f"graph input {name} is not a tensor")
    for n in graph.nodes:
        problems.extend(_validate_node(graph, n, defined))
        defined.update(n.outputs)
    for name in graph.outputs:
        if name not in defined:
            problems.append(f"graph output {name} is never computed")
    return problems


def _validate_node(graph: Graph, n: Node, defined: set[str]) -> list[str]:
    spec = SPECS.get(n.op)
    if spec is None:
        return [f"node {n.name}: unknown op {n.op!r}"]
    out: list[str] = []
    for i in n.inputs:
        if i not in graph.tensors:
            out.append(f"node {n.name}: input {i} is not a tensor")
        elif i not in defined:
            out.append(f"node {n.name}: input {i} is used before it is computed")
    if len(n.outputs) != 1 or n.outputs[0] not in graph.tensors:
        return out + [f"node {n.name}: needs exactly one output tensor"]
    if out:
        return out
    if spec.variadic:
        allowed = [spec.inputs[0]] * len(n.inputs)
        if not n.inputs:
            out.append(f"node {n.name}: {n.op} needs at least one input")
    else:
        allowed = list(spec.inputs)
        if len(n.inputs) != len(allowed):
            out.append(f"node {n.name}: {n.op} takes {len(allowed)} inputs, "
                       f"got {len(n.inputs)}")
    for i, dtypes in zip(n.inputs, allowed, strict=False):
        if graph.tensors[i].dtype not in dtypes:
            out.append(f"node {n.name}: input {i} is {graph.tensors[i].dtype}, "
                       f"{n.op} takes {'/'.join(dtypes)}")
    out_t = graph.tensors[n.outputs[0]]
    if out_t.dtype not in spec.outputs:
        out.append(f"node {n.name}: output is {out_t.dtype}, {n.op} gives "
                   f"{'/'.join(spec.outputs)}")
    needed_attrs = spec.attrs + (spec.int8_attrs if out_t.dtype == "int8" else ())
    needed_arrays = spec.arrays + (spec.int8_arrays if out_t.dtype == "int8" else ()) + (
        spec.bits_arrays if out_t.dtype == "bits" else ())
    out += [f"node {n.name}: attribute {a!r} is missing" for a in needed_attrs
            if a not in n.attrs]
    out += [f"node {n.name}: array {a!r} is missing" for a in needed_arrays
            if a not in n.arrays]
    for role, arr in n.arrays.items():
        if arr.dtype == object:
            out.append(f"node {n.name}: array {role!r} has no numeric dtype")
    return out


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"cannot store {type(o).__name__} in graph.json")
