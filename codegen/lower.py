"""Per-op lowering: an IR node to plain integers, arrays and names for its template.

All arithmetic on shapes, windows, thresholds and multipliers happens here;
a template (``templates/<op>.c.j2``) only places the values into the kernel's
parameter struct and calls the kernel. Each op's function, template and
kernels are its ``OpLowering``, part of its entry in ``registry.py``;
``lower_node`` adds what every node has (pointers, names, MACs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UnsupportedModelError
from ..ir.bits import pack, words
from ..ir.graph import Graph, Node, Tensor
from .bconv_gen import shape_of
from .bconv_gen32 import runtime_straight
from .bconv_tiles import bconv_tiles
from .planner import Plan
from .slices import fold_table, fold_threshold

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

#: The runtime's condition (bnn_runtime.h) for binary conv weights in tile order.
TILES_GUARD = "BNN_BCONV_TILES"

#: C element type of a tensor's storage, by IR dtype.
CTYPES = {"bits": "uint64_t", "int8": "int8_t", "uint8": "uint8_t"}


@dataclass(frozen=True)
class CArray:
    """A constant array for ``<name>_weights.c``."""

    name: str          # full C identifier, model prefix included
    ctype: str         # int8_t, uint8_t, int32_t, uint64_t
    values: np.ndarray  # flat, already in ctype's range
    guard: str = ""    # C preprocessor condition the array is compiled under, if any


@dataclass(frozen=True)
class NodeCode:
    """Everything the templates need for one node."""

    index: int
    func: str                    # static function name, e.g. node_03_bconv
    node: Node
    template: str                # templates/<op>.c.j2
    params: Mapping[str, Any]    # plain ints / strings / tuples for the template
    arrays: tuple[CArray, ...]
    kernels: tuple[str, ...]     # runtime symbols the node calls
    inputs: tuple[Tensor, ...]
    output: Tensor
    binary_macs: int = 0
    int8_macs: int = 0
    uses: frozenset[str] = field(default_factory=frozenset)  # of "input", "output", "arena"


@dataclass(frozen=True)
class Context:
    graph: Graph
    plan: Plan
    prefix: str          # the model name: C symbol prefix


@dataclass(frozen=True)
class Lowered:
    """What an op's lowering function returns."""

    params: dict[str, Any]       # for the template, as ``p``
    arrays: Sequence[CArray]
    kernels: Sequence[str]       # runtime symbols this node calls
    touched: Sequence[str] | None = None  # tensors its code reads or writes; None: all


LowerFn = Callable[[Context, int, Node], Lowered]


@dataclass(frozen=True)
class OpLowering:
    lower: LowerFn
    template: str
    kernels: tuple[str, ...]   # every runtime symbol the op may call


# -- helpers ---------------------------------------------------------------------------


def func_name(index: int, node: Node, num_nodes: int) -> str:
    width = max(2, len(str(num_nodes - 1)))
    return f"node_{index:0{width}d}_{node.op}"


def hwc(t: Tensor) -> tuple[int, int, int]:
    n, h, w, c = t.shape
    if n != 1:
        raise UnsupportedModelError(f"tensor {t.name}: generated C runs batch 1, "
                                    f"the IR has batch {n}; re-export with batch 1")
    return (h, w, c)


def window(kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int]
           ) -> tuple[int, ...]:
    """bnn_window order: kernel h, w; stride h, w; pad top, left, bottom, right."""
    top, left, bottom, right = (int(p) for p in padding)
    return (int(kernel[0]), int(kernel[1]), int(stride[0]), int(stride[1]),
            top, left, bottom, right)


def pointer(ctx: Context, tensor: str, const: bool) -> str:
    """C expression of a tensor's storage, typed for the kernel."""
    t = ctx.graph.tensors[tensor]
    ctype = ("const " if const else "") + CTYPES[t.dtype]
    where = ctx.plan.location(tensor)
    if where == "arena":
        return f"({ctype} *)(arena + {ctx.plan.placements[tensor].offset})"
    return f"({ctype} *){where}"


def per_channel(node: Node, role: str, channels: int) -> np.ndarray:
    arr = np.asarray(node.arrays[role])
    try:
        return np.broadcast_to(arr, (channels,)).astype(np.int64)
    except ValueError:
        raise UnsupportedModelError(f"node {node.name}: array {role!r} has shape {arr.shape}, "
                                    f"expected one value per channel ({channels})") from None


def int32_values(node: Node, role: str, values: np.ndarray, *, clip: bool = False
                 ) -> np.ndarray:
    """int32 array; thresholds may clip (the accumulator is int32 anyway)."""
    values = np.asarray(values, dtype=np.int64)
    if clip:
        return np.clip(values, INT32_MIN, INT32_MAX).astype(np.int32)
    if values.size and (values.min() < INT32_MIN or values.max() > INT32_MAX):
        raise UnsupportedModelError(f"node {node.name}: array {role!r} exceeds int32")
    return values.astype(np.int32)


def array(ctx: Context, index: int, node: Node, role: str, ctype: str,
          values: np.ndarray, guard: str = "") -> CArray:
    func = func_name(index, node, len(ctx.graph.nodes))
    return CArray(f"{ctx.prefix}_{func}_{role}", ctype,
                  np.ascontiguousarray(values).reshape(-1), guard)


def zero_point(t: Tensor) -> int:
    if t.quant is None:
        raise UnsupportedModelError(f"tensor {t.name}: {t.dtype} without quantization")
    return int(t.quant.zero_point)


def clamp(node: Node) -> tuple[int, int]:
    lo, hi = node.attrs["clamp"]
    return int(lo), int(hi)


def lower_node(ctx: Context, index: int, node: Node, lowering: OpLowering,
               binary_macs: int, int8_macs: int) -> NodeCode:
    """``node`` through its op's lowering, with its tensors' pointers and names."""
    lowered = lowering.lower(ctx, index, node)
    inputs = tuple(ctx.graph.tensors[i] for i in node.inputs)
    output = ctx.graph.tensors[node.outputs[0]]
    touched = (*node.inputs, node.outputs[0]) if lowered.touched is None else lowered.touched
    uses = {ctx.plan.location(t) for t in touched}
    params = {
        **lowered.params,
        "in_ptrs": tuple(pointer(ctx, i, True) for i in node.inputs),
        "out_ptr": pointer(ctx, node.outputs[0], False),
    }
    return NodeCode(index, func_name(index, node, len(ctx.graph.nodes)), node,
                    lowering.template, params, tuple(lowered.arrays),
                    tuple(lowered.kernels), inputs, output, binary_macs, int8_macs,
                    frozenset(uses))


def _requant_arrays(ctx: Context, index: int, node: Node, channels: int
                    ) -> tuple[CArray, CArray]:
    mult = int32_values(node, "multiplier", per_channel(node, "multiplier", channels))
    shift = int32_values(node, "shift", per_channel(node, "shift", channels))
    return (array(ctx, index, node, "multiplier", "int32_t", mult),
            array(ctx, index, node, "shift", "int32_t", shift))


# -- ops -------------------------------------------------------------------------------


def _output_stage(ctx: Context, index: int, node: Node, t_out: Tensor, channels: int,
                  kernel_prefix: str) -> tuple[list[CArray], dict[str, Any]]:
    """The accumulating ops' output stage (golden.int_ops.output_stage): a
    per-channel threshold for bits, the requant arrays and clamp for int8.
    Returns its arrays and template parameters, the kernel included."""
    if t_out.dtype == "bits":
        thr = array(ctx, index, node, "threshold", "int32_t",
                    int32_values(node, "threshold", per_channel(node, "threshold", channels),
                                 clip=True))
        return [thr], {"threshold": thr.name, "kernel": f"{kernel_prefix}_to_bits"}
    mult, shift = _requant_arrays(ctx, index, node, channels)
    lo, hi = clamp(node)
    return [mult, shift], {"multiplier": mult.name, "shift": shift.name,
                           "out_zero": zero_point(t_out), "lo": lo, "hi": hi,
                           "kernel": f"{kernel_prefix}_to_i8"}


def lower_lut(ctx: Context, index: int, node: Node) -> Lowered:
    t = ctx.graph.tensors[node.inputs[0]]
    h, w, c = hwc(t)
    table = np.asarray(node.arrays["table"]).astype(np.int8)
    if table.shape != (c, 256):
        raise UnsupportedModelError(f"node {node.name}: lut table is {table.shape}, "
                                    f"expected ({c}, 256)")
    if node.inputs[0] in ctx.plan.views:  # an in-place concat's unrescaled bytes
        table = fold_table(ctx.plan.views[node.inputs[0]], table)
    arr = array(ctx, index, node, "table", "int8_t", table)
    return Lowered({"shape": (h, w, c), "table": arr.name, "int8_in": t.dtype == "int8"},
                   [arr], ["bnn_lut_u8"])


def _int8_input_conv(ctx: Context, index: int, node: Node, weight: np.ndarray, c_type: str,
                     kernel: str, **extra: Any) -> Lowered:
    """A conv reading int8 activations (int8 or 1-bit weights): its weight and bias arrays,
    window and input zero point, then the int8-or-bits output stage of ``kernel``."""
    t_in = ctx.graph.tensors[node.inputs[0]]
    t_out = ctx.graph.tensors[node.outputs[0]]
    o, kh, kw, _ = weight.shape
    a = node.attrs
    arrays = [array(ctx, index, node, "weight", c_type, weight),
              array(ctx, index, node, "bias", "int32_t",
                    int32_values(node, "bias", per_channel(node, "bias", o)))]
    params: dict[str, Any] = {
        "in_shape": hwc(t_in), "out_shape": hwc(t_out),
        "window": window((kh, kw), a["stride"], a["padding"]),
        "in_zero": zero_point(t_in), "weight": arrays[0].name, "bias": arrays[1].name,
        "to_bits": t_out.dtype == "bits", **extra,
    }
    stage_arrays, stage_params = _output_stage(ctx, index, node, t_out, o, kernel)
    arrays += stage_arrays
    params.update(stage_params)
    return Lowered(params, arrays, [params["kernel"]])


def lower_conv_i8(ctx: Context, index: int, node: Node) -> Lowered:
    weight = np.asarray(node.arrays["weight"]).astype(np.int8)
    # int8 pixels wider than out.c: a channel slice of a concat's buffer (slices.py)
    return _int8_input_conv(ctx, index, node, weight, "int8_t", "bnn_conv_i8",
                            groups=int(node.attrs["groups"]),
                            out_pitch=ctx.plan.pitch(node.outputs[0], weight.shape[0]))


def lower_conv_i8_w1(ctx: Context, index: int, node: Node) -> Lowered:
    weight = np.asarray(node.arrays["weight"]).astype(np.uint64)
    channels = ctx.graph.tensors[node.inputs[0]].channels
    if weight.shape[3] != words(channels):
        raise UnsupportedModelError(f"node {node.name}: weight has {weight.shape[3]} words "
                                    f"per tap, {channels} channels need {words(channels)}")
    return _int8_input_conv(ctx, index, node, weight, "uint64_t", "bnn_conv_i8_w1")


def lower_ternary_conv(ctx: Context, index: int, node: Node) -> Lowered:
    """conv_i8_w2 and bconv_w2 (TTQ): two weight bit planes, per-channel scale_pos and
    scale_neg, bias, then the int8-or-bits output stage; one parameter struct."""
    t_in = ctx.graph.tensors[node.inputs[0]]
    t_out = ctx.graph.tensors[node.outputs[0]]
    planes = [np.asarray(node.arrays[r]).astype(np.uint64) for r in ("weight", "weight_neg")]
    o, kh, kw, nwords = planes[0].shape
    if nwords != words(t_in.channels):
        raise UnsupportedModelError(f"node {node.name}: weight has {nwords} words per tap, "
                                    f"{t_in.channels} channels need {words(t_in.channels)}")
    a = node.attrs
    arrays = [array(ctx, index, node, "weight", "uint64_t", planes[0]),
              array(ctx, index, node, "weight_neg", "uint64_t", planes[1])]
    arrays += [array(ctx, index, node, role, "int32_t",
                     int32_values(node, role, per_channel(node, role, o)))
               for role in ("scale_pos", "scale_neg", "bias")]
    bits_in = t_in.dtype == "bits"
    params: dict[str, Any] = {
        "in_shape": hwc(t_in), "out_shape": hwc(t_out),
        "window": window((kh, kw), a["stride"], a["padding"]),
        "in_zero": 0 if bits_in else zero_point(t_in),
        "pad_one": int(bits_in and a["pad_mode"] == "one"),
        "weight": arrays[0].name, "weight_neg": arrays[1].name, "scale_pos": arrays[2].name,
        "scale_neg": arrays[3].name, "bias": arrays[4].name, "to_bits": t_out.dtype == "bits",
    }
    prefix = "bnn_bconv_w2" if bits_in else "bnn_conv_i8_w2"
    stage_arrays, stage_params = _output_stage(ctx, index, node, t_out, o, prefix)
    arrays += stage_arrays
    params.update(stage_params)
    return Lowered(params, arrays, [params["kernel"]])


def lower_bconv(ctx: Context, index: int, node: Node) -> Lowered:
    t_in = ctx.graph.tensors[node.inputs[0]]
    t_out = ctx.graph.tensors[node.outputs[0]]
    weight = np.asarray(node.arrays["weight"]).astype(np.uint64)
    o, kh, kw, nwords = weight.shape
    in_shape, out_shape = hwc(t_in), hwc(t_out)
    a = node.attrs
    groups, dilation = int(a.get("groups", 1)), tuple(int(d) for d in a.get("dilation", (1, 1)))
    group_channels = in_shape[2] // groups
    if nwords != words(group_channels):
        raise UnsupportedModelError(f"node {node.name}: weight has {nwords} words per tap, "
                                    f"{group_channels} channels need {words(group_channels)}")
    arrays = [array(ctx, index, node, "weight", "uint64_t", weight)]
    params: dict[str, Any] = {
        "in_shape": in_shape, "out_shape": out_shape,
        "window": window((kh, kw), a["stride"], a["padding"]),
        "pad_one": int(a["pad_mode"] == "one"), "pad_mode": a["pad_mode"],
        "weight": arrays[0].name, "tiles": "", "tiles_guard": TILES_GUARD,
        "to_bits": t_out.dtype == "bits", "pad_fix": "", "general": None, "tile8": None,
    }
    if groups != 1 or dilation != (1, 1):
        # no SIMD path runs these (bnn_dispatch.c): no tile order, no pad_fix
        params.update(general=(groups, *dilation), groups=groups, dilation=dilation)
    else:
        # aarch64 and armv7 builds also stream the weights in tile order (bconv_tiles.py)
        arrays.append(array(ctx, index, node, "tiles", "uint64_t", bconv_tiles(weight),
                            TILES_GUARD))
        params["tiles"] = arrays[1].name
        params["tile8"] = shape_of((kh, kw), group_channels)  # its straight aarch64 tile
        params["tile8_a32"] = not runtime_straight(params["tile8"])  # and armv7 block
    if not params["general"] and a["pad_mode"] == "zero" and any(int(v) for v in a["padding"]):
        fix, row_class, col_class = zero_pad_fix(weight, in_shape[2], in_shape[:2],
                                                 out_shape[:2], a["stride"], a["padding"])
        arrays += [array(ctx, index, node, "pad_fix", "int32_t",
                         int32_values(node, "pad_fix", fix)),
                   array(ctx, index, node, "row_class", "int32_t", row_class),
                   array(ctx, index, node, "col_class", "int32_t", col_class)]
        params.update(pad_fix=arrays[-3].name, row_class=arrays[-2].name,
                      col_class=arrays[-1].name, col_classes=fix.shape[1])
    if t_out.dtype == "int8":  # y << acc_shift + bias feeds the requant stage
        bias = array(ctx, index, node, "bias", "int32_t",
                     int32_values(node, "bias", per_channel(node, "bias", o)))
        arrays.append(bias)
        # pixels wider than out.c: a channel slice of a concat's buffer (codegen/slices.py)
        params.update(bias=bias.name, acc_shift=int(a["acc_shift"]),
                      out_pitch=ctx.plan.pitch(node.outputs[0], o))
    stage_arrays, stage_params = _output_stage(ctx, index, node, t_out, o, "bnn_bconv")
    arrays += stage_arrays
    params.update(stage_params)
    return Lowered(params, arrays, [params["kernel"]])


def _clipped(out: int, size: int, kernel: int, stride: int, pad: int) -> list[tuple[int, int]]:
    """Taps [k0, k1) inside the input, per output row (or column): bnn_clip_window."""
    spans = []
    for o in range(out):
        i = o * stride - pad
        k0 = min(max(0, -i), kernel)
        spans.append((k0, max(k0, min(kernel, size - i))))
    return spans


def zero_pad_fix(weight: np.ndarray, c_in: int, in_hw: tuple[int, int], out_hw: tuple[int, int],
                 stride: Sequence[int], padding: Sequence[int]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zero padding as +1 padding plus a constant: a padded tap adds c_in - 2 *
    popcount(w) to y under +1 padding and 0 under zero padding, so a border
    pixel's y is its +1-padded y minus fix[class][o], the sum over its padded
    taps. Classes: the distinct clipped row spans x the distinct column spans.
    Returns (fix [row classes][column classes][out], row class per output row,
    column class per output column)."""
    o, kh, kw, _ = weight.shape
    ones = np.unpackbits(weight.view(np.uint8), axis=-1).sum(axis=-1, dtype=np.int64)
    tap = c_in - 2 * ones  # [o][kh][kw]: y contribution of a tap whose input bit is 0
    total = tap.sum(axis=(1, 2))
    rows = _clipped(out_hw[0], in_hw[0], kh, int(stride[0]), int(padding[0]))
    cols = _clipped(out_hw[1], in_hw[1], kw, int(stride[1]), int(padding[1]))
    row_spans, col_spans = sorted(set(rows)), sorted(set(cols))
    fix = np.array([[total - tap[:, r0:r1, c0:c1].sum(axis=(1, 2)) for c0, c1 in col_spans]
                    for r0, r1 in row_spans], dtype=np.int64)
    return (fix, np.array([row_spans.index(s) for s in rows], dtype=np.int32),
            np.array([col_spans.index(s) for s in cols], dtype=np.int32))


def lower_threshold(ctx: Context, index: int, node: Node) -> Lowered:
    t_in = ctx.graph.tensors[node.inputs[0]]
    shape = hwc(t_in)
    c = shape[2]
    values = per_channel(node, "threshold", c)
    if node.inputs[0] in ctx.plan.views:  # an in-place concat's unrescaled bytes
        values = fold_threshold(ctx.plan.views[node.inputs[0]], values)
    thr = array(ctx, index, node, "threshold", "int32_t",
                int32_values(node, "threshold", values, clip=True))
    flip = array(ctx, index, node, "flip", "uint8_t",
                 (per_channel(node, "flip", c) != 0).astype(np.uint8))
    return Lowered({"shape": shape, "in_pitch": ctx.plan.pitch(node.inputs[0], c),
                    "threshold": thr.name, "flip": flip.name},
                   [thr, flip], ["bnn_threshold_i8"])


def lower_bmaxpool(ctx: Context, index: int, node: Node) -> Lowered:
    t_in = ctx.graph.tensors[node.inputs[0]]
    t_out = ctx.graph.tensors[node.outputs[0]]
    in_shape = hwc(t_in)
    mask_bits = (per_channel(node, "or_mask", in_shape[2]) != 0).astype(np.uint8)
    mask = array(ctx, index, node, "or_mask", "uint64_t", pack(mask_bits))
    a = node.attrs
    params = {"in_shape": in_shape, "out_shape": hwc(t_out),
              "window": window(a["kernel"], a["stride"], a["padding"]), "or_mask": mask.name}
    return Lowered(params, [mask], ["bnn_bmaxpool"])


def _lower_pool_i8(ctx: Context, index: int, node: Node, kernel: str) -> Lowered:
    t_in = ctx.graph.tensors[node.inputs[0]]
    t_out = ctx.graph.tensors[node.outputs[0]]
    a = node.attrs
    c = hwc(t_out)[2]
    params = {"in_shape": hwc(t_in), "out_shape": hwc(t_out),
              "window": window(a["kernel"], a["stride"], a["padding"]),
              "zero_point": zero_point(t_in) if t_in.quant else 0,
              "count_include_pad": int(bool(a.get("count_include_pad", False))),
              "kernel": kernel,
              # pixels wider than c: a channel slice of a concat's buffer (slices.py)
              "out_pitch": ctx.plan.pitch(node.outputs[0], c)}
    return Lowered(params, [], [kernel])


def lower_maxpool_i8(ctx: Context, index: int, node: Node) -> Lowered:
    return _lower_pool_i8(ctx, index, node, "bnn_maxpool_i8")


def lower_avgpool_i8(ctx: Context, index: int, node: Node) -> Lowered:
    return _lower_pool_i8(ctx, index, node, "bnn_avgpool_i8")


def lower_add_i8(ctx: Context, index: int, node: Node) -> Lowered:
    ta, tb = (ctx.graph.tensors[i] for i in node.inputs)
    t_out = ctx.graph.tensors[node.outputs[0]]
    h, w, c = hwc(t_out)
    if hwc(ta) != (h, w, c) or hwc(tb) != (h, w, c):
        raise UnsupportedModelError(f"node {node.name}: add_i8 needs equal shapes")
    a = node.attrs
    lo, hi = clamp(node)
    params = {"size": h * w * c, "shape": (h, w, c),
              "a": (zero_point(ta), *map(int, a["scale_a"])),
              "b": (zero_point(tb), *map(int, a["scale_b"])),
              "out": (zero_point(t_out), *map(int, a["scale_out"])),
              "lo": lo, "hi": hi}
    return Lowered(params, [], ["bnn_add_i8"])


def lower_add_into_i8(ctx: Context, index: int, node: Node) -> Lowered:
    tx, tw = (ctx.graph.tensors[i] for i in node.inputs)
    t_out = ctx.graph.tensors[node.outputs[0]]
    h, w, c = hwc(t_out)
    a = node.attrs
    offset, wc = int(a["offset"]), hwc(tw)[2]
    if hwc(tx) != (h, w, c) or hwc(tw)[:2] != (h, w) or offset + wc > c:
        raise UnsupportedModelError(f"node {node.name}: add_into_i8 of {hwc(tw)} from channel "
                                    f"{offset} into {hwc(tx)} does not fit")
    lo, hi = clamp(node)
    pitches = {"in0": ctx.plan.pitch(node.inputs[0], c), "out": ctx.plan.pitch(node.outputs[0], c)}
    params = {"pixels": h * w, "shape": (h, w, c), "offset": offset, "w_channels": wc,
              "a": (zero_point(tx), *map(int, a["scale_a"])),
              "b": (zero_point(tw), *map(int, a["scale_b"])),
              "out": (zero_point(t_out), *map(int, a["scale_out"])), "lo": lo, "hi": hi,
              "rescale": (zero_point(tx), *map(int, a["rescale"]), zero_point(t_out)),
              "in_place": ctx.plan.shares_buffer(node.outputs[0], node.inputs[0]),
              "pitches": pitches}
    if pitches["in0"] != pitches["out"]:
        raise UnsupportedModelError(f"node {node.name}: add_into_i8's input and output "
                                    f"pixels are {pitches} elements apart")
    return Lowered(params, [], ["bnn_add_into_i8"])


def lower_channelwise_i8(ctx: Context, index: int, node: Node) -> Lowered:
    t_in = ctx.graph.tensors[node.inputs[0]]
    t_out = ctx.graph.tensors[node.outputs[0]]
    shape = hwc(t_in)
    c = shape[2]
    roles = ("bias", "multiplier_pos", "shift_pos", "multiplier_neg", "shift_neg")
    arrays = [array(ctx, index, node, r, "int32_t",
                    int32_values(node, r, per_channel(node, r, c))) for r in roles]
    lo, hi = clamp(node)
    params: dict[str, Any] = {"shape": shape, "in_zero": zero_point(t_in),
                              "acc_shift": int(node.attrs["acc_shift"]),
                              "out_zero": zero_point(t_out), "lo": lo, "hi": hi}
    params.update({r: arr.name for r, arr in zip(roles, arrays, strict=True)})
    return Lowered(params, arrays, ["bnn_channelwise_i8"])


def _concat_parts(ctx: Context, node: Node) -> tuple[dict[str, Any], list[str]]:
    """The template's parts (the inputs in place in their slice marked ``in_place``: the
    node does not copy them), the output's pitch, and the tensors the node touches."""
    out = node.outputs[0]
    out_shape = hwc(ctx.graph.tensors[out])
    parts, offset = [], 0
    for i, name in enumerate(node.inputs):
        shape = hwc(ctx.graph.tensors[name])
        if shape[:2] != out_shape[:2]:
            raise UnsupportedModelError(f"node {node.name}: concat input {name} is "
                                        f"{shape[0]}x{shape[1]}, output {out_shape[:2]}")
        in_place = ctx.plan.buffers.get(name, name) == ctx.plan.buffers.get(out, out)
        parts.append({"index": i, "name": name, "shape": shape, "c_offset": offset,
                      "ptr": pointer(ctx, name, True), "in_place": in_place})
        offset += shape[2]
    if offset != out_shape[2]:
        raise UnsupportedModelError(f"node {node.name}: concat inputs have {offset} channels, "
                                    f"output {out_shape[2]}")
    copied = [name for name, p in zip(node.inputs, parts, strict=True) if not p["in_place"]]
    pitch = ctx.plan.pitch(out, out_shape[2])  # channels (int8 only: a slice's pitch)
    params = {"parts": parts, "out_shape": out_shape, "out_pitch": pitch,
              "pitches": {"out": pitch} if pitch != out_shape[2] else {}}
    return params, [*copied, out] if copied else []


def lower_concat_i8(ctx: Context, index: int, node: Node) -> Lowered:
    params, touched = _concat_parts(ctx, node)
    out_zero = zero_point(ctx.graph.tensors[node.outputs[0]])
    rescale = node.attrs["rescale"]
    if len(rescale) != len(params["parts"]):
        raise UnsupportedModelError(f"node {node.name}: {len(rescale)} rescale entries for "
                                    f"{len(params['parts'])} inputs")
    for part, name, (m, s) in zip(params["parts"], node.inputs, rescale, strict=True):
        part.update(in_zero=zero_point(ctx.graph.tensors[name]), multiplier=int(m),
                    shift=int(s), out_zero=out_zero)
    return Lowered(params, [], ["bnn_concat_i8_part"], touched)


def lower_concat_bits(ctx: Context, index: int, node: Node) -> Lowered:
    params, touched = _concat_parts(ctx, node)
    for part in params["parts"]:
        part.update(in_zero=0, multiplier=0, shift=0, out_zero=0)
    return Lowered(params, [], ["bnn_concat_bits_part"], touched)


def lower_bconv_k(ctx: Context, index: int, node: Node) -> Lowered:
    """XNOR-Net's input scaling: a binary conv's plain weights (no tile order or
    pad_fix: its kernels read them as the reference does), its threshold or bias and
    requant stage, and the int8 x's zero point and the product's shift for K."""
    t_bits, t_x = (ctx.graph.tensors[i] for i in node.inputs)
    t_out = ctx.graph.tensors[node.outputs[0]]
    weight = np.asarray(node.arrays["weight"]).astype(np.uint64)
    o, kh, kw, nwords = weight.shape
    in_shape = hwc(t_bits)
    a = node.attrs
    groups, dilation = int(a.get("groups", 1)), tuple(int(d) for d in a.get("dilation", (1, 1)))
    if hwc(t_x) != in_shape or nwords != words(in_shape[2] // groups):
        raise UnsupportedModelError(f"node {node.name}: bconv_k's x {hwc(t_x)}, bits "
                                    f"{in_shape} and {nwords} weight words per tap disagree")
    arrays = [array(ctx, index, node, "weight", "uint64_t", weight)]
    general = (groups, *dilation) if groups != 1 or dilation != (1, 1) else None
    params: dict[str, Any] = {
        "in_shape": in_shape, "out_shape": hwc(t_out),
        "window": window((kh, kw), a["stride"], a["padding"]),
        "pad_one": int(a["pad_mode"] == "one"), "pad_mode": a["pad_mode"],
        "weight": arrays[0].name, "general": general, "x_zero": zero_point(t_x),
        "k_shift": int(a["k_shift"]), "to_bits": t_out.dtype == "bits",
    }
    if t_out.dtype == "int8":
        arrays.append(array(ctx, index, node, "bias", "int32_t",
                            int32_values(node, "bias", per_channel(node, "bias", o))))
        params["bias"] = arrays[-1].name
    stage_arrays, stage_params = _output_stage(ctx, index, node, t_out, o, "bnn_bconv_k")
    arrays += stage_arrays
    params.update(stage_params)
    return Lowered(params, arrays, [params["kernel"]])
