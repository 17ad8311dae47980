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
from .attrs import brief
from .graph import Graph, Node, Quant, Tensor
from .limits import MAX_ARRAY_BYTES, MAX_GRAPH_FILE_BYTES
from .validate import validate

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
    """Read and validate an IR directory written by ``save``.

    Anything wrong with the files, from a flipped byte to an attribute out of
    range, is an ``IRFormatError`` naming the file, node or tensor.
    """
    directory = Path(directory)
    gpath, wpath = directory / GRAPH_FILE, directory / WEIGHTS_FILE
    for p in (gpath, wpath):
        if not p.is_file():
            raise IRFormatError(f"{directory}: no {p.name}; is this a bnnkit IR directory "
                                f"(written by `bnn-export --ir-only -o DIR`)?")
    if gpath.stat().st_size > MAX_GRAPH_FILE_BYTES:
        raise IRFormatError(f"{gpath}: {gpath.stat().st_size:,} bytes, more than any graph "
                            f"({MAX_GRAPH_FILE_BYTES:,}); re-export the model")
    try:
        doc = json.loads(gpath.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)
        raise IRFormatError(f"{gpath}: not valid JSON ({reason}); re-export the model") from None
    return from_json(doc, _read_weights(wpath), str(gpath))


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    """Every array of weights.npz, refusing members too large to be real weights
    before reading them."""
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.file_size > MAX_ARRAY_BYTES:
                    raise IRFormatError(f"{path}: member {info.filename} is {info.file_size:,} "
                                        f"bytes, more than any weight array "
                                        f"({MAX_ARRAY_BYTES:,}); re-export the model")
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except IRFormatError:
        raise
    except Exception as e:  # zipfile, ValueError, EOFError: any damage reads as one message
        reason = " ".join(str(e).split())[:200]
        raise IRFormatError(f"{path}: damaged weights file ({type(e).__name__}: {reason}); "
                            f"re-export the model") from None


def from_json(doc: Any, arrays: dict[str, np.ndarray], where: str = "graph.json") -> Graph:
    """The graph a graph.json document and its arrays describe, validated."""
    def bad(msg: str) -> IRFormatError:  # one line, whatever names the file holds
        return IRFormatError(" ".join(f"{where}: {msg}".split()))

    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad(f"not a bnnkit IR file (expected \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise bad(f"IR format version {brief(doc.get('version'))}, this bnnkit reads version "
                  f"{VERSION}; re-export the model with this bnnkit")
    try:
        graph = _graph(doc, arrays)
    except _Malformed as e:
        raise bad(f"malformed IR: {e}; re-export the model") from None
    problems = validate(graph)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise bad("invalid IR: " + "; ".join(problems[:3]) + more)
    return graph


class _Malformed(Exception):
    """graph.json does not have the structure ``to_json`` writes."""


def _get(obj: Any, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(obj, dict):
        raise _Malformed(f"{what} is {type(obj).__name__}, expected an object")
    if key not in obj:
        raise _Malformed(f"{what} has no {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _Malformed(f"{what}.{key} is {brief(value)}, expected "
                         f"{getattr(kind, '__name__', 'a value')}")
    return value


def _names(obj: Any, key: str, what: str) -> tuple[str, ...]:
    values = _get(obj, key, list, what)
    if not all(isinstance(v, str) for v in values):
        raise _Malformed(f"{what}.{key} must be a list of names (strings)")
    return tuple(values)


def _graph(doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> Graph:
    tensors: dict[str, Tensor] = {}
    for i, t in enumerate(_get(doc, "tensors", list, "the document")):
        what = f"tensors[{i}]"
        name = _get(t, "name", str, what)
        shape = _get(t, "shape", list, f"tensor {name}")
        if not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
            raise _Malformed(f"tensor {name}: shape {brief(shape)} is not a list of integers")
        q = t.get("quant")
        quant = None
        if q is not None:
            scale = _get(q, "scale", (int, float), f"tensor {name}.quant")
            zero = _get(q, "zero_point", int, f"tensor {name}.quant")
            if isinstance(scale, int) and abs(scale) > 2**64:
                raise _Malformed(f"tensor {name}: quantization scale {brief(scale)} is out "
                                 f"of range")
            quant = Quant(float(scale), zero)
        if name in tensors:
            raise _Malformed(f"tensor {name} is declared twice")
        tensors[name] = Tensor(name, tuple(shape), _get(t, "dtype", str, f"tensor {name}"),
                               quant)
    nodes = []
    for i, n in enumerate(_get(doc, "nodes", list, "the document")):
        name = _get(n, "name", str, f"nodes[{i}]")
        what = f"node {name}"
        node_arrays = {}
        for role in _names(n, "arrays", what):
            key = f"{name}/{role}"
            if key not in arrays:
                raise _Malformed(f"{what}: array {role!r} is missing from weights.npz")
            node_arrays[role] = arrays[key]
        source = n.get("source", "")
        if not isinstance(source, str):
            raise _Malformed(f"{what}.source is {brief(source)}, expected a string")
        nodes.append(Node(name, _get(n, "op", str, what), _names(n, "inputs", what),
                          _names(n, "outputs", what), _get(n, "attrs", dict, what),
                          node_arrays, source))
    meta = _get(doc, "meta", dict, "the document")
    for key in ("input", "outputs"):
        if key not in meta:
            raise _Malformed(f"meta has no {key!r} (the model's input and output shapes)")
    return Graph(tensors, tuple(nodes), _names(doc, "inputs", "the document"),
                 _names(doc, "outputs", "the document"), meta)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"cannot store {type(o).__name__} in graph.json")
