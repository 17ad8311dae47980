"""Validation of a whole graph against the op registry and the size limits.

``validate`` returns every problem as a message naming the tensor or node
and what was expected; an empty list means the golden model and the code
generator can take the graph: every attribute has its type and range
(``attrs.py``), every array its dtype, shape and value range (``ops.py``),
every output the shape its inputs and window give, and nothing exceeds
``limits.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import limits
from .attrs import AttrError, brief, parse
from .bits import words
from .graph import DTYPES, Graph, Node, Tensor
from .ops import SPECS, ArraySpec, OpSpec

QUANT_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}
FLOAT32_TINY, FLOAT32_MAX = float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max)
POOLS = tuple(name for name, spec in SPECS.items() if spec.geometry == "window")
#: Tensor and node names: they appear in C comments, plan.json and as
#: ``node/role`` keys in weights.npz (the exporter's are Python identifiers).
NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


def validate(graph: Graph) -> list[str]:
    """Every inconsistency found, as messages (empty when the graph is sound)."""
    problems: list[str] = []
    for t in graph.tensors.values():
        problems.extend(_validate_tensor(t))
    if problems:  # node checks read tensor shapes and quantization
        return problems
    total = sum(t.nbytes() for t in graph.tensors.values())
    if total > limits.MAX_GRAPH_BYTES:
        problems.append(f"tensors take {total:,} bytes together, more than "
                        f"{limits.MAX_GRAPH_BYTES:,} (the arena of a Pi's memory)")
    problems.extend(_validate_structure(graph))
    defined = set(graph.inputs)
    for n in graph.nodes:
        problems.extend(_validate_node(graph, n, defined))
        defined.update(n.outputs)
    for name in graph.outputs:
        if name not in defined:
            problems.append(f"graph output {name} is never computed")
    problems.extend(_validate_meta(graph))
    return problems


def _validate_tensor(t: Tensor) -> list[str]:
    if not NAME.fullmatch(t.name):
        return [f"tensor {t.name[:40]!r}: a name is 1 to 128 letters, digits, '_', '.' or '-'"]
    if len(t.shape) != 4 or any(d < 1 for d in t.shape):
        return [f"tensor {t.name}: shape {t.shape} is not 4-D NHWC"]
    if t.dtype not in DTYPES:
        return [f"tensor {t.name}: unknown dtype {t.dtype!r} (one of {', '.join(DTYPES)})"]
    n, h, w, c = t.shape
    out = []
    for what, size, limit in (("batch", n, limits.MAX_BATCH), ("height", h, limits.MAX_DIM),
                              ("width", w, limits.MAX_DIM),
                              ("channels", c, limits.MAX_CHANNELS)):
        if size > limit:
            out.append(f"tensor {t.name}: {what} {size} exceeds the limit {limit}")
    if not out and n * h * w * c > limits.MAX_TENSOR_VALUES:
        out.append(f"tensor {t.name}: {n * h * w * c:,} values exceed the limit "
                   f"{limits.MAX_TENSOR_VALUES:,}")
    if t.dtype in QUANT_RANGES:
        lo, hi = QUANT_RANGES[t.dtype]
        if t.quant is None:
            out.append(f"tensor {t.name}: {t.dtype} needs quantization parameters")
        elif not (math.isfinite(t.quant.scale) and FLOAT32_TINY <= t.quant.scale
                  <= FLOAT32_MAX):
            out.append(f"tensor {t.name}: quantization scale {t.quant.scale} is not a "
                       f"positive float32 number")
        elif not lo <= t.quant.zero_point <= hi:
            out.append(f"tensor {t.name}: zero point {t.quant.zero_point} is outside "
                       f"{t.dtype} ({lo}..{hi})")
    return out


def _validate_structure(graph: Graph) -> list[str]:
    out = []
    if not graph.nodes:
        out.append("the graph has no nodes")
    if len(graph.nodes) > limits.MAX_NODES:
        out.append(f"{len(graph.nodes)} nodes exceed the limit {limits.MAX_NODES}")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        out.append(f"the graph has {len(graph.inputs)} inputs and {len(graph.outputs)} "
                   f"outputs; bnnkit graphs have one of each")
    for name in graph.inputs:
        if name not in graph.tensors:
            out.append(f"graph input {name} is not a tensor")
    names: set[str] = set()
    written: set[str] = set(graph.inputs)
    for n in graph.nodes:
        if not NAME.fullmatch(n.name):
            out.append(f"node {n.name[:40]!r}: a name is 1 to 128 letters, digits, '_', '.' "
                       f"or '-'")
        if n.name in names:
            out.append(f"node {n.name}: the name is used by two nodes")
        names.add(n.name)
        for o in n.outputs:
            if o in written:
                out.append(f"node {n.name}: output {o} is "
                           f"{'the graph input' if o in graph.inputs else 'written twice'}")
            written.add(o)
    return out


def _validate_meta(graph: Graph) -> list[str]:
    """The keys the golden model reads, where present: the input's and output's torch
    shapes, the input normalization, the labels."""
    meta = graph.meta
    if len(graph.inputs) != 1 or len(graph.outputs) != 1 or not all(
            n in graph.tensors for n in (*graph.inputs, *graph.outputs)):
        return []  # reported by _validate_structure
    inp, res = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    out = []
    if "input" in meta:
        entry = meta["input"]
        if not isinstance(entry, Mapping):
            out.append("meta input must be an object with a torch_shape")
        else:
            out += _torch_shape("input", entry.get("torch_shape"), inp)
            out += _normalize(entry.get("normalize"), inp)
    if "outputs" in meta:
        outs = meta["outputs"]
        if not (isinstance(outs, list) and len(outs) == 1 and isinstance(outs[0], Mapping)):
            out.append("meta outputs must be a list of one object with a torch_shape")
        else:
            out += _torch_shape("outputs[0]", outs[0].get("torch_shape"), res)
    labels = meta.get("labels")
    if labels is not None and not (isinstance(labels, list)
                                   and all(isinstance(s, str) for s in labels)):
        out.append("meta labels must be a list of strings")
    return out


def _torch_shape(key: str, shape: Any, t: Tensor) -> list[str]:
    """PyTorch's NCHW shape of the tensor, or (N, C) for a 1x1 map; the batch is
    free (the golden model takes any)."""
    _, h, w, c = t.shape
    allowed = [[c, h, w]] + ([[c]] if (h, w) == (1, 1) else [])
    if _int_list(shape) and len(shape) > 1 and shape[0] >= 1 and list(shape[1:]) in allowed:
        return []
    return [f"meta {key}.torch_shape is {brief(shape)}, tensor {t.name} {t.shape} needs "
            f"{' or '.join('[N, ' + ', '.join(map(str, a)) + ']' for a in allowed)}"]


def _normalize(normalize: Any, inp: Tensor) -> list[str]:
    if normalize is None:
        return []
    c = inp.channels
    if not (isinstance(normalize, Mapping) and all(
            _number_list(normalize.get(k)) and len(normalize[k]) in (1, c)
            for k in ("mean", "std")) and all(v > 0 for v in normalize["std"])):
        return [f"meta input.normalize must be {{\"mean\": [...], \"std\": [...]}} with 1 "
                f"or {c} numbers each, std > 0"]
    if inp.dtype != "uint8":
        return [f"meta input.normalize is set but input {inp.name} is {inp.dtype}, not "
                f"uint8 pixels"]
    return []


def _int_list(v: Any) -> bool:
    return isinstance(v, list | tuple) and all(
        isinstance(d, int | np.integer) and not isinstance(d, bool) for d in v)


def _number_list(v: Any) -> bool:
    return isinstance(v, list | tuple) and len(v) > 0 and all(
        isinstance(d, int | float) and not isinstance(d, bool) and math.isfinite(d) for d in v)


# -- nodes ---------------------------------------------------------------------------------


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
    out = _validate_dtypes(graph, n, spec)
    if out:
        return out
    out_t = graph.tensors[n.outputs[0]]
    try:
        attrs = parse(spec.attrs, n.attrs, out_t.dtype)
    except AttrError as e:
        return [f"node {n.name} ({n.op}): {e}"]
    ins = [graph.tensors[i] for i in n.inputs]
    sizes = {"cin": ins[0].channels, "cout": out_t.channels,
             "groups": getattr(attrs, "groups", 1)}
    out = _validate_arrays(n, spec, out_t.dtype, sizes)
    if out:
        return out
    return [f"node {n.name} ({n.op}): {p}" for p in _validate_geometry(n, spec, attrs, ins, out_t)]


def _validate_dtypes(graph: Graph, n: Node, spec: OpSpec) -> list[str]:
    out = []
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
    return out


def _validate_arrays(n: Node, spec: OpSpec, out_dtype: str, sizes: dict[str, int]
                     ) -> list[str]:
    where = f"node {n.name} ({n.op})"
    roles = {a.role: a for a in spec.arrays}
    out = [f"{where}: unknown array {r!r} (takes {', '.join(roles) or 'none'})"
           for r in n.arrays if r not in roles]
    for a in spec.arrays:
        applies = a.only is None or a.only == out_dtype
        if a.role not in n.arrays:
            if applies and not a.optional:
                out.append(f"{where}: array {a.role!r} is missing")
            continue
        if not applies:
            out.append(f"{where}: array {a.role!r} applies to {a.only} output only, the "
                       f"output is {out_dtype}")
            continue
        problem = _check_array(a, np.asarray(n.arrays[a.role]), sizes)
        if problem:
            out.append(f"{where}: array {a.role!r} {problem}")
    return out


def _check_array(a: ArraySpec, arr: np.ndarray, sizes: dict[str, int]) -> str | None:
    """One array against its spec; binds kh/kw in ``sizes`` from the array's shape."""
    if arr.dtype.name not in a.dtypes or not arr.dtype.isnative:
        return f"is {arr.dtype.str} ({arr.dtype.name}), expected {' or '.join(a.dtypes)}"
    expected: list[int | str] = []
    for i, sym in enumerate(a.shape):
        if sym in ("kh", "kw") and i < arr.ndim:
            sizes.setdefault(str(sym), int(arr.shape[i]))
        expected.append(_size(sym, sizes))
    if tuple(arr.shape) != tuple(expected):
        return f"has shape {arr.shape}, expected ({', '.join(map(str, expected))})"
    if a.values is not None and arr.size and (arr.min() < a.values[0] or
                                              arr.max() > a.values[1]):
        return f"has values {arr.min()}..{arr.max()}, expected {a.values[0]}..{a.values[1]}"
    packed = sizes["cin"] // sizes["groups"]
    if a.packed and packed % 64 and arr.size:
        unused = np.uint64(~((1 << (packed % 64)) - 1) & (2**64 - 1))
        if np.any(arr[..., -1] & unused):
            return (f"sets bits beyond channel {packed} in the last word "
                    f"(unused bits must be 0)")
    return None


def _size(sym: str | int, sizes: dict[str, int]) -> int | str:
    if isinstance(sym, int):
        return sym
    if sym == "cin/groups":
        return sizes["cin"] // sizes["groups"]
    if sym == "words(cin/groups)":
        return words(sizes["cin"] // sizes["groups"])
    if sym == "words(cin)":
        return words(sizes["cin"])
    return sizes.get(sym, sym)


def _validate_geometry(n: Node, spec: OpSpec, attrs: Any, ins: Sequence[Tensor],
                       out_t: Tensor) -> list[str]:
    x = ins[0]
    if spec.same_quant and x.quant != out_t.quant:
        return [f"output quantization {out_t.quant} differs from the input's {x.quant}"]
    if spec.geometry == "same":
        return [f"input {t.name} is {t.shape}, the output {out_t.shape}; they must be equal"
                for t in ins if t.shape != out_t.shape]
    if spec.geometry == "concat":
        return _validate_concat(attrs, ins, out_t)
    if spec.geometry == "add_into":
        return _validate_add_into(attrs, ins, out_t)
    if spec.geometry == "conv":
        weight = np.asarray(n.arrays["weight"])
        kernel = (int(weight.shape[1]), int(weight.shape[2]))
        groups = getattr(attrs, "groups", 1)
        if x.channels % groups or out_t.channels % groups:
            return [f"groups {groups} does not divide {x.channels} input and "
                    f"{out_t.channels} output channels"]
        if weight.shape[1] < 1 or weight.shape[2] < 1:
            return [f"weight has an empty kernel {kernel}"]
        taps = x.channels // groups
    else:
        kernel, taps = attrs.kernel, x.channels
        if x.channels != out_t.channels:
            return [f"output has {out_t.channels} channels, the input {x.channels}"]
    return _validate_window(kernel, attrs.stride, attrs.padding, x, out_t, taps, n.op,
                            getattr(attrs, "dilation", (1, 1)))


def _validate_window(kernel: tuple[int, int], stride: tuple[int, int],
                     padding: tuple[int, int, int, int], x: Tensor, out_t: Tensor,
                     taps: int, op: str, dilation: tuple[int, int] = (1, 1)) -> list[str]:
    _, h, w, _ = x.shape
    expected = []
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]  # dilated extent
    for axis, size, k, s, before, after in (("height", h, span[0], stride[0], padding[0],
                                             padding[2]),
                                            ("width", w, span[1], stride[1], padding[1],
                                             padding[3])):
        if k > size + before + after:
            return [f"kernel {k} is larger than the padded {axis} {size + before + after}"]
        if op in POOLS and max(before, after) >= k:
            return [f"padding {max(before, after)} on the {axis} is not smaller than the kernel "
                    f"{k}: a window could hold padding only (an average over nothing)"]
        expected.append((size + before + after - k) // s + 1)
    if (out_t.shape[0], *expected) != out_t.shape[:3]:
        return [f"output is {out_t.shape[1]}x{out_t.shape[2]} (batch {out_t.shape[0]}), a "
                f"{kernel[0]}x{kernel[1]} window with stride {stride[0]}x{stride[1]} and "
                f"padding {list(padding)} on the {h}x{w} input (batch {x.shape[0]}) gives "
                f"{expected[0]}x{expected[1]}"]
    window_values = out_t.shape[0] * expected[0] * expected[1] * kernel[0] * kernel[1] * taps
    if window_values > limits.MAX_WINDOW_VALUES:
        return [f"its windows cover {window_values:,} values, more than the limit "
                f"{limits.MAX_WINDOW_VALUES:,}"]
    if op == "conv_i8" and kernel[1] * taps > limits.MAX_I8_ROW_VALUES:
        return [f"a kernel row has {kernel[1] * taps:,} int8 products, more than "
                f"{limits.MAX_I8_ROW_VALUES:,} (the C sums one row in int32)"]
    return []


def _validate_add_into(attrs: Any, ins: Sequence[Tensor], out_t: Tensor) -> list[str]:
    x, w = ins
    if x.shape != out_t.shape:
        return [f"input {x.name} is {x.shape}, the output {out_t.shape}; they must be equal"]
    if w.shape[:3] != out_t.shape[:3]:
        return [f"input {w.name} is {w.shape}, the output {out_t.shape}: batch, height and "
                f"width must be equal"]
    if attrs.offset + w.channels > out_t.channels:
        return [f"channels {attrs.offset}..{attrs.offset + w.channels - 1} of {w.name} "
                f"reach past the output's {out_t.channels}"]
    return []


def _validate_concat(attrs: Any, ins: Sequence[Tensor], out_t: Tensor) -> list[str]:
    out = [f"input {t.name} is {t.shape}, the output {out_t.shape}: batch, height and width "
           f"must be equal" for t in ins if t.shape[:3] != out_t.shape[:3]]
    total = sum(t.channels for t in ins)
    if total != out_t.channels:
        out.append(f"inputs have {total} channels together, the output {out_t.channels}")
    rescale = getattr(attrs, "rescale", None)
    if rescale is not None and len(rescale) != len(ins):
        out.append(f"{len(rescale)} rescale entries for {len(ins)} inputs")
    return out
