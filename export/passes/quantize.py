"""Lower a calibrated float graph to integer ops (DESIGN.md sections 3 and 4).

* a conv on bits becomes ``bconv``: weights packed, BatchNorm/scale/bias and
  the following sign folded into an integer threshold (bits out), or an int8
  output stage when a real-valued path reads it (Bi-Real shortcuts, heads);
* a conv on int8 becomes ``conv_i8`` with per-channel symmetric weights, or
  ``conv_i8_w1`` (weights packed as bits) when its weights are +-1 before the
  per-channel scale (BinaryConnect, BWN: ``BinaryWeightConv2d``);
* a conv whose weights are ternary, {+Wp, -Wn, 0} with zeros among them
  (TTQ: ``TernaryConv2d``), becomes ``conv_i8_w2`` on int8 or ``bconv_w2`` on
  bits: two weight bit planes, Wp and Wn as integers;
* a sign on int8 (through an unfolded affine) becomes ``threshold``;
* affines and PReLUs left alone become ``channelwise_i8``; pools, add and
  concat get their integer forms;
* the float input becomes int8 (calibrated), or raw uint8 pixels through a
  per-channel table when the model declared its input normalization; an
  input that only a sign reads becomes bits (the sign of the float value).

``RULES`` holds one function per float op; they share a ``_Context``: the
float graph, the integer tensors and nodes built so far, and which float
tensor each integer tensor now carries.

Negative per-channel scales are folded into negated weights, so thresholds
never need a flip flag on ops that have weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ...errors import UnsupportedModelError
from ...golden.quant import quantize_multiplier
from ...ir import bits
from ...ir.graph import Graph, Node, Quant, Tensor, prune

INT32_LIMIT = 2**31 - 1


def choose_quant(lo: float, hi: float) -> Quant:
    """Asymmetric int8 covering [min(lo, 0), max(hi, 0)]."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = (hi - lo) / 255.0
    zero = int(np.clip(round(-128 - lo / scale), -128, 127))
    return Quant(float(scale), zero)


def _q_bounds(clamp: Any, q: Quant) -> list[int]:
    lo, hi = clamp if clamp else (None, None)
    qlo = -128 if lo is None else int(np.clip(q.zero_point + math.ceil(lo / q.scale - 1e-9),
                                              -128, 127))
    qhi = 127 if hi is None else int(np.clip(q.zero_point + math.floor(hi / q.scale + 1e-9),
                                             -128, 127))
    return [qlo, qhi]


def _multipliers(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(float(m)) for m in real]
    return (np.array([p[0] for p in pairs], dtype=np.int32),
            np.array([p[1] for p in pairs], dtype=np.int32))


def _int32(a: np.ndarray) -> np.ndarray:
    return np.clip(np.round(a), -INT32_LIMIT, INT32_LIMIT).astype(np.int32)


def _sign_condition(clamp: Any, channels: int) -> np.ndarray:
    """Per channel: +1 always (1), -1 always (-1), or decided by the value (0)."""
    lo, hi = clamp if clamp else (None, None)
    if lo is not None and lo >= 0:
        return np.ones(channels, np.int64)
    if hi is not None and hi < 0:
        return -np.ones(channels, np.int64)
    return np.zeros(channels, np.int64)


class _Context:
    """The float graph being lowered, and the integer graph being built from it."""

    def __init__(self, graph: Graph, normalize: dict | None) -> None:
        self.g = graph
        ranges = graph.meta.get("ranges")
        if ranges is None:
            raise ValueError("quantize needs a calibrated graph (run calibrate first)")
        self.ranges: dict[str, tuple[float, float]] = _shared_ranges(graph, ranges)
        self.normalize = normalize
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.alias: dict[str, str] = {}  # float tensor -> int tensor carrying it

    def t(self, name: str) -> Tensor:
        return self.tensors[self.alias.get(name, name)]

    def new(self, name: str, dtype: str, quant: Quant | None = None,
            like: str | None = None) -> Tensor:
        shape = self.g.tensors[like or name].shape
        t = Tensor(name, shape, dtype, quant)
        self.tensors[name] = t
        return t

    def calibrated(self, name: str) -> Quant:
        lo, hi = self.ranges[name]
        return choose_quant(lo, hi)

    def reads_only_sign(self, name: str) -> bool:
        readers = self.g.consumers(name)
        return (bool(readers) and all(r.op == "sign" for r in readers)
                and name not in self.g.outputs)

    def emit(self, node: Node, op: str, inputs: list[str], out: Tensor,
             attrs: dict, arrays: dict) -> None:
        self.nodes.append(Node(node.name, op, tuple(self.alias.get(i, i) for i in inputs),
                               (out.name,), attrs, arrays, node.source))

    def fail(self, node: Node, what: str) -> UnsupportedModelError:
        where = f" at {node.source}" if node.source else ""
        return UnsupportedModelError(f"{what}{where}")

    def sign_output(self, node: Node) -> Tensor:
        """The bits tensor a fused sign produces; every reading sign aliases it."""
        readers = self.g.consumers(node.outputs[0])
        out = self.new(readers[0].outputs[0], "bits")
        for r in readers:
            self.alias[r.outputs[0]] = out.name
        return out


def _input(cx: _Context) -> None:
    name = cx.g.inputs[0]
    q = cx.calibrated(name)
    signs_only = cx.reads_only_sign(name)
    if not cx.normalize:
        if signs_only:
            # A binary first layer: the input is its signs, taken on the float value
            # (+1 iff x >= 0, as in training); rounding to int8 first would turn
            # [-S/2, 0) into +1.
            cx.new(name, "bits")
            for reader in cx.g.consumers(name):
                cx.alias[reader.outputs[0]] = name
        else:
            cx.new(name, "int8", q)
        return
    mean = np.asarray(cx.normalize["mean"], dtype=np.float64)
    std = np.asarray(cx.normalize["std"], dtype=np.float64)
    c = cx.g.tensors[name].channels
    pixels = np.arange(256, dtype=np.float64)
    real = (pixels[None, :] / 255.0 - np.broadcast_to(mean, (c,))[:, None]) / \
        np.broadcast_to(std, (c,))[:, None]
    if signs_only:
        # Only signs read the table: rounding to nearest would send pixels in
        # [-S/2, 0) to the zero point, which a sign reads as +1. A symmetric scale
        # over the whole table (zero point 0) and floor keep sign(x) exact.
        q = Quant(float(max(np.abs(real).max(), 1e-8)) / 127.0, 0)
        table = np.floor(real / q.scale).clip(-128, 127).astype(np.int8)
    else:
        table = np.clip(np.round(real / q.scale) + q.zero_point, -128, 127).astype(np.int8)
    cx.new(name, "uint8", Quant(1.0, 0))
    out = cx.new(f"{name}_normalized", "int8", q, like=name)
    cx.nodes.append(Node("input_normalize", "lut", (name,), (out.name,), {},
                         {"table": table}, "input normalization (mean, std)"))
    cx.alias[name] = out.name


def _conv(cx: _Context, node: Node) -> None:
    ternary = _ternary_values(node)
    if ternary is not None:
        _ternary_conv(cx, node, ternary)
    elif cx.t(node.inputs[0]).dtype == "bits":
        _bconv(cx, node)
    elif _binary_weights(node):
        _conv_i8_w1(cx, node)
    else:
        _conv_i8(cx, node)


def _bconv(cx: _Context, node: Node) -> None:
    a, arr = node.attrs, node.arrays
    w = arr["weight"]
    if not np.all(np.abs(w) == 1.0):
        raise cx.fail(node, "a real-valued convolution reads binary activations; "
                            "use BinaryConv2d (binary weights), TernaryConv2d (ternary) or "
                            "drop the Sign before it")
    if any(a["padding"]) and a["pad_value"] not in (0.0, 1.0):
        raise cx.fail(node, f"binary conv padded with {a['pad_value']}; use 0 or 1")
    o, kh, kw, c = w.shape
    k = c * kh * kw
    s, t = arr["scale"].astype(np.float64), arr["shift"].astype(np.float64)
    attrs = {"stride": a["stride"], "padding": a["padding"],
             "pad_mode": "one" if a["pad_value"] == 1.0 else "zero"}
    if a["groups"] != 1:
        attrs["groups"] = a["groups"]
    if tuple(a.get("dilation", (1, 1))) != (1, 1):
        attrs["dilation"] = a["dilation"]
    flip = s < 0
    if cx.reads_only_sign(node.outputs[0]):
        threshold = _binary_thresholds(s, t, a.get("clamp"), k)
        arrays = {"threshold": threshold}
        out = cx.sign_output(node)
    else:
        out = cx.new(node.outputs[0], "int8", cx.calibrated(node.outputs[0]))
        acc_shift, bias, mult, shift = _binary_int8_stage(s, t, k, out.qparams)
        attrs.update(acc_shift=acc_shift, clamp=_q_bounds(a.get("clamp"), out.qparams))
        arrays = {"bias": bias, "multiplier": mult, "shift": shift}
    signed = np.where(flip[:, None, None, None], -w, w)
    arrays["weight"] = bits.pack(bits.to_bits(signed))
    cx.emit(node, "bconv", [node.inputs[0]], out, attrs, arrays)


def _binary_thresholds(s: np.ndarray, t: np.ndarray, clamp: Any, k: int) -> np.ndarray:
    """+1 iff s*y + t >= 0; with y' = -y on channels where s < 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(s > 0, -t / s, t / s)
    thr = np.where(s != 0, np.ceil(ratio), np.where(t >= 0, -(k + 1), k + 1))
    cond = _sign_condition(clamp, len(s))
    thr = np.where(cond > 0, -(k + 1), np.where(cond < 0, k + 1, thr))
    return np.clip(thr, -(k + 1), k + 1).astype(np.int32)


def _binary_int8_stage(s: np.ndarray, t: np.ndarray, k: int, q: Quant
                       ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """q = Z + round(s*y + t) / S as acc = (|y| << acc_shift) + bias, acc * M.

    A zero scale gets a tiny one whose y contribution stays under a quarter
    of an output step, so the channel is its constant ``t``.
    """
    mag = np.maximum(np.abs(s), q.scale / (4.0 * k))
    offset = t / mag  # in units of y
    acc_shift = int(np.clip(math.floor(math.log2((2**30) / (k + np.max(np.abs(offset)) + 1))),
                            0, 16))
    bias = _int32(offset * 2**acc_shift)
    mult, shift = _multipliers(mag / (q.scale * 2**acc_shift))
    return acc_shift, bias, mult, shift


def _conv_i8(cx: _Context, node: Node) -> None:
    a, arr = node.attrs, node.arrays
    if any(a["padding"]) and a["pad_value"] != 0.0:
        raise cx.fail(node, f"real-valued conv padded with {a['pad_value']}; only zero "
                            f"padding is supported on int8 layers")
    if tuple(a.get("dilation", (1, 1))) != (1, 1):
        raise cx.fail(node, "dilated real-valued (int8) convolution is not supported; dilate "
                            "a BinaryConv2d, or use an undilated conv")
    tin = cx.t(node.inputs[0])
    s_in = tin.qparams.scale
    w = arr["weight"].astype(np.float64) * arr["scale"][:, None, None, None]
    wmax = np.abs(w).reshape(len(w), -1).max(axis=1)
    s_w = np.where(wmax > 0, wmax / 127.0, 1.0)
    qw = np.clip(np.round(w / s_w[:, None, None, None]), -127, 127).astype(np.int8)
    shift_real = arr["shift"].astype(np.float64)
    attrs = {"stride": a["stride"], "padding": a["padding"], "groups": a["groups"]}
    if cx.reads_only_sign(node.outputs[0]):
        out = cx.sign_output(node)
        # +1 iff S_in*S_w*acc + shift >= 0 (S_w > 0: signs live in the weights)
        thr = np.ceil(-shift_real / (s_in * s_w))
        cond = _sign_condition(a.get("clamp"), len(s_w))
        thr = np.where(cond > 0, -INT32_LIMIT, np.where(cond < 0, INT32_LIMIT, thr))
        arrays = {"weight": qw, "bias": np.zeros(len(s_w), np.int32),
                  "threshold": _int32(thr)}
    else:
        out = cx.new(node.outputs[0], "int8", cx.calibrated(node.outputs[0]))
        mult, shift = _multipliers(s_in * s_w / out.qparams.scale)
        attrs["clamp"] = _q_bounds(a.get("clamp"), out.qparams)
        arrays = {"weight": qw, "bias": _int32(shift_real / (s_in * s_w)),
                  "multiplier": mult, "shift": shift}
    cx.emit(node, "conv_i8", [node.inputs[0]], out, attrs, arrays)


def _binary_weights(node: Node) -> bool:
    """+-1 weights (a BinaryWeightConv2d's sign, the scale kept apart) of an ungrouped
    conv with more than one product per output: 1-bit weights for INT8 inputs."""
    w = node.arrays["weight"]
    return (node.attrs["groups"] == 1 and w[0].size > 1 and bool(np.all(np.abs(w) == 1.0))
            and not (any(node.attrs["padding"]) and node.attrs["pad_value"] != 0.0))


def _conv_i8_w1(cx: _Context, node: Node) -> None:
    """INT8 x 1-bit: acc = sum((q - Z) * w) with w = +-1 exactly, so the per-channel
    scale s (XNOR-Net's alpha times BatchNorm's) and the input scale move whole into
    the output stage: real output = S_in * s * acc + shift."""
    arr = node.arrays
    w = arr["weight"]
    s = arr["scale"].astype(np.float64)
    flip = s < 0  # negative scales fold into negated weights
    signed = np.where(flip[:, None, None, None], -w, w)
    out, attrs, arrays = _integer_acc_stage(cx, node, cx.t(node.inputs[0]).qparams.scale,
                                            w[0].size * 255)
    arrays["weight"] = bits.pack(bits.to_bits(signed))
    cx.emit(node, "conv_i8_w1", [node.inputs[0]], out, attrs, arrays)


def _integer_acc_stage(cx: _Context, node: Node, unit: float, k: int
                       ) -> tuple[Tensor, dict, dict]:
    """The output tensor, attributes and bias-and-output-stage arrays of a conv whose
    real output is unit * |s| * acc + shift: acc an exact integer sum (at most ``k`` in
    magnitude), s and shift the node's per-channel scale and shift, negative scales
    folded into the weights by the caller."""
    a, arr = node.attrs, node.arrays
    s, t = arr["scale"].astype(np.float64), arr["shift"].astype(np.float64)
    mag = np.maximum(np.abs(s), 1e-30)
    attrs = {"stride": a["stride"], "padding": a["padding"]}
    if cx.reads_only_sign(node.outputs[0]):
        out = cx.sign_output(node)
        thr = np.where(s != 0, np.ceil(-t / (unit * mag)), np.where(t >= 0, -INT32_LIMIT,
                                                                    INT32_LIMIT))
        cond = _sign_condition(a.get("clamp"), len(s))
        thr = np.where(cond > 0, -INT32_LIMIT, np.where(cond < 0, INT32_LIMIT, thr))
        arrays = {"bias": np.zeros(len(s), np.int32), "threshold": _int32(thr)}
    else:
        out = cx.new(node.outputs[0], "int8", cx.calibrated(node.outputs[0]))
        # a zero scale gets one small enough that acc moves the output by < 1/4 step
        mag = np.maximum(mag, out.qparams.scale / (4.0 * k * unit))
        mult, shift = _multipliers(unit * mag / out.qparams.scale)
        attrs["clamp"] = _q_bounds(a.get("clamp"), out.qparams)
        arrays = {"bias": _int32(t / (unit * mag)), "multiplier": mult, "shift": shift}
    return out, attrs, arrays


#: TTQ's scalars become integers of at most this many bits (ir/ops.py's TERNARY_SCALE).
TERNARY_BITS = 15


def _ternary_values(node: Node) -> tuple[float, float] | None:
    """TTQ's (+Wp, -Wn): the (at most) two nonzero values of the weights of an ungrouped,
    undilated conv with zeros among them (TernaryConv2d), larger first; None if the
    weights are not ternary."""
    a, w = node.attrs, node.arrays["weight"]
    if a["groups"] != 1 or tuple(a.get("dilation", (1, 1))) != (1, 1) or w[0].size < 2:
        return None
    values = np.unique(w[w != 0])
    if not 1 <= len(values) <= 2 or np.all(w != 0):
        return None
    return float(values[-1]), float(values[0])


def _ternary_conv(cx: _Context, node: Node, values: tuple[float, float]) -> None:
    """TTQ: conv_i8_w2 (int8 in) or bconv_w2 (bits in). The weights w = +Wp, -Wn or 0
    become two bit planes and integers P, N with w ~ u * (P or -N): the larger of
    |Wp|, |Wn| is exactly 2^K units u, the other rounds to the nearest unit (relative
    error at most 2^-(K+1) of the larger); K is the most that keeps |acc| under 2^30
    (at most 15 bits). u, the input scale and the per-channel scale s move into the
    output stage; a negative s negates P and N."""
    a, arr = node.attrs, node.arrays
    w = arr["weight"]
    wp, wn = values
    bits_in = cx.t(node.inputs[0]).dtype == "bits"
    if any(a["padding"]) and a["pad_value"] not in ((0.0, 1.0) if bits_in else (0.0,)):
        raise cx.fail(node, f"ternary conv padded with {a['pad_value']}; "
                            + ("use 0 or 1" if bits_in else
                               "real-valued (int8) inputs pad with zeros only: drop the F.pad, "
                               "or binarize the inputs (TernaryConv2d(input_sign=Sign())) "
                               "to pad with +1"))
    per_tap = 1 if bits_in else 255  # the largest |activation|: +-1, or |q - Z|
    room = 2**30 / (per_tap * w[0].size)
    k_bits = int(np.clip(math.floor(math.log2(room)), 0, TERNARY_BITS))
    unit = max(abs(wp), abs(wn)) / 2**k_bits
    sign = np.where(arr["scale"] < 0, -1, 1)
    out, attrs, arrays = _integer_acc_stage(
        cx, node, unit * (1.0 if bits_in else cx.t(node.inputs[0]).qparams.scale),
        per_tap * w[0].size << k_bits)
    if bits_in:
        attrs["pad_mode"] = "one" if a["pad_value"] == 1.0 else "zero"
    arrays.update(weight=bits.pack((w == wp).astype(np.uint8)),
                  weight_neg=bits.pack((w == wn).astype(np.uint8) * (wn != wp)),
                  scale_pos=(sign * round(wp / unit)).astype(np.int32),
                  scale_neg=(sign * -round(wn / unit)).astype(np.int32))
    cx.emit(node, "bconv_w2" if bits_in else "conv_i8_w2", [node.inputs[0]], out, attrs,
            arrays)


def _kconv(cx: _Context, node: Node) -> None:
    """XNOR-Net's input scaling: real output = s * (S_x / (C * kh * kw)) * y * K_int + t,
    K_int the window's sum of |q - Z| of the int8 x (``bconv_k``). The product goes
    through a per-layer shift r chosen so that |product| / 2^r + |t| / (mag * 2^r) stays
    within 2^30 (no int32 overflow for any input); then bits by a threshold (a sign
    reads it), or the int8 stage of acc + bias with M = mag * 2^r / S_out."""
    a, arr = node.attrs, node.arrays
    tx = cx.t(node.inputs[1])
    if tx.dtype != "int8":
        raise cx.fail(node, "input scaling (K) of a binary input: K needs the real-valued "
                            "values before the Sign; take them from a BatchNorm, a pool or "
                            "an int8 layer")
    w = arr["weight"]
    if not np.all(np.abs(w) == 1.0):
        raise cx.fail(node, "a real-valued convolution reads binary activations; "
                            "use BinaryConv2d (binary weights) or drop the Sign before it")
    o, kh, kw, cg = w.shape
    cin = tx.channels
    s, t = arr["scale"].astype(np.float64), arr["shift"].astype(np.float64)
    to_bits = cx.reads_only_sign(node.outputs[0])
    out = cx.sign_output(node) if to_bits else cx.new(node.outputs[0], "int8",
                                                      cx.calibrated(node.outputs[0]))
    q = tx.qparams
    largest = max(127 - q.zero_point, q.zero_point + 128) * cin * kh * kw  # of K_int
    product = cg * kh * kw * largest                                       # of |y * K_int|
    unit = q.scale / (cin * kh * kw)                                       # K = unit * K_int
    # a zero scale gets one small enough that y * K moves the output by < 1/4 step
    step = 1.0 if to_bits else out.qparams.scale
    mag = np.maximum(np.abs(s) * unit, step / (4.0 * product))
    offset = t / mag
    r = math.ceil(math.log2((product + np.max(np.abs(offset)) + 1) / 2**30))
    if r > 32:
        raise cx.fail(node, f"input-scaled binary conv whose shift ({np.max(np.abs(offset)):.3g}"
                            f" output units) is too large for int32; check its BatchNorm")
    r = max(r, -16)
    attrs = {"stride": a["stride"], "padding": a["padding"],
             "pad_mode": "one" if a["pad_value"] == 1.0 else "zero", "k_shift": r}
    if to_bits:  # +1 iff acc >= ceil(-t / (mag * 2^r)): exact where k_shift <= 0
        thr = np.where(s != 0, np.ceil(-offset / 2.0**r),
                       np.where(t >= 0, -INT32_LIMIT, INT32_LIMIT))
        cond = _sign_condition(a.get("clamp"), len(s))
        thr = np.where(cond > 0, -INT32_LIMIT, np.where(cond < 0, INT32_LIMIT, thr))
        arrays = {"threshold": _int32(thr)}
    else:
        mult, shift = _multipliers(mag * 2.0**r / out.qparams.scale)
        attrs["clamp"] = _q_bounds(a.get("clamp"), out.qparams)
        arrays = {"bias": _int32(offset / 2.0**r), "multiplier": mult, "shift": shift}
    if a["groups"] != 1:
        attrs["groups"] = a["groups"]
    if tuple(a.get("dilation", (1, 1))) != (1, 1):
        attrs["dilation"] = a["dilation"]
    signed = np.where((s < 0)[:, None, None, None], -w, w)
    arrays["weight"] = bits.pack(bits.to_bits(signed))
    cx.emit(node, "bconv_k", list(node.inputs), out, attrs, arrays)


def _sign(cx: _Context, node: Node) -> None:
    if node.outputs[0] in cx.alias:
        return  # fused into the op before it
    src = cx.g.producer(node.inputs[0])
    scale_shift = (np.ones(1), np.zeros(1))
    inp = node.inputs[0]
    if src is not None and src.op == "affine" and cx.reads_only_sign(src.outputs[0]):
        scale_shift = (src.arrays["scale"], src.arrays["shift"])
        inp = src.inputs[0]
    tin = cx.t(inp)
    if tin.dtype == "bits":  # sign of +-1 values, possibly scaled
        raise cx.fail(node, "sign of a shifted or scaled binary tensor (an ABCConv2d's "
                            "activation bases, or a Shift, after a Sign): these need the "
                            "real-valued input; drop the Sign before it")
    c = tin.channels
    s, t = (np.broadcast_to(v.astype(np.float64), (c,)) for v in scale_shift)
    q = tin.qparams
    # s * S * (q - Z) + t >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = q.zero_point - t / (s * q.scale)
    thr = np.where(s > 0, np.ceil(bound), np.floor(bound) + 1)
    flip = s < 0
    const = s == 0
    thr = np.where(const, -256, thr)
    flip = np.where(const, t < 0, flip)
    out = cx.new(node.outputs[0], "bits")
    cx.emit(node, "threshold", [inp], out, {},
            {"threshold": np.clip(thr, -256, 256).astype(np.int32),
             "flip": flip.astype(np.uint8)})


def _affine(cx: _Context, node: Node) -> None:
    if cx.reads_only_sign(node.outputs[0]):
        return  # folded into the thresholds of the signs that read it
    _channelwise(cx, node, node.arrays["scale"], node.arrays["shift"],
                 np.ones_like(node.arrays["scale"]), None)


def _act(cx: _Context, node: Node) -> None:
    c = cx.g.tensors[node.outputs[0]].channels
    _channelwise(cx, node, np.ones(c), np.zeros(c), node.arrays["slope"],
                 node.attrs.get("clamp"))


def _channelwise(cx: _Context, node: Node, s: np.ndarray, t: np.ndarray, slope: np.ndarray,
                 clamp: Any) -> None:
    """out = act(s * x + t): acc = ((q - Z) << k) + bias in units of S_in/2^k/s."""
    tin = cx.t(node.inputs[0])
    if tin.dtype == "bits":
        raise cx.fail(node, f"{node.op} on binary activations (a Sign's output): move it "
                           "before the Sign; binary activations feed binary convs and "
                           "linears, max-pools and concats")
    out = cx.new(node.outputs[0], "int8", cx.calibrated(node.outputs[0]))
    s_in, s_out = tin.qparams.scale, out.qparams.scale
    s = s.astype(np.float64)
    tiny = s_out / (1020.0 * s_in)
    s_eff = np.where(np.abs(s) < tiny, np.where(s < 0, -tiny, tiny), s)
    offset = t / (s_eff * s_in)
    k = int(np.clip(math.floor(math.log2(2**30 / (255 + np.max(np.abs(offset)) + 1))),
                    0, 16))
    mult_pos, shift_pos = _multipliers(s_eff * s_in / (2**k * s_out))
    mult_neg, shift_neg = _multipliers(slope * s_eff * s_in / (2**k * s_out))
    cx.emit(node, "channelwise_i8", [node.inputs[0]], out,
            {"acc_shift": k, "clamp": _q_bounds(clamp, out.qparams)},
            {"bias": _int32(offset * 2**k), "multiplier_pos": mult_pos,
             "shift_pos": shift_pos, "multiplier_neg": mult_neg, "shift_neg": shift_neg})


def _maxpool(cx: _Context, node: Node) -> None:
    tin = cx.t(node.inputs[0])
    attrs = {k: node.attrs[k] for k in ("kernel", "stride", "padding")}
    mask = node.arrays.get("min_mask", np.zeros(tin.channels, np.uint8)).astype(np.uint8)
    if tin.dtype == "bits":
        out = cx.new(node.outputs[0], "bits")
        cx.emit(node, "bmaxpool", [node.inputs[0]], out, attrs, {"or_mask": mask})
        return
    if mask.any():
        raise cx.fail(node, "BatchNorm with a negative scale after a max-pool on a "
                            "real-valued path; put the BatchNorm before the pool")
    out = cx.new(node.outputs[0], "int8", tin.quant)
    cx.emit(node, "maxpool_i8", [node.inputs[0]], out, attrs, {})


def _avgpool(cx: _Context, node: Node) -> None:
    tin = cx.t(node.inputs[0])
    if tin.dtype == "bits":
        raise cx.fail(node, "average pooling of binary activations; pool the int8 "
                            "output of the layer before the Sign instead")
    out = cx.new(node.outputs[0], "int8", tin.quant)
    cx.emit(node, "avgpool_i8", [node.inputs[0]], out, dict(node.attrs), {})


def _add(cx: _Context, node: Node) -> None:
    ta, tb = (cx.t(i) for i in node.inputs)
    if "bits" in (ta.dtype, tb.dtype):
        raise cx.fail(node, "residual add of binary activations; add the int8 outputs "
                            "of the layers (Bi-Real style) instead")
    out = cx.new(node.outputs[0], "int8", cx.calibrated(node.outputs[0]))
    cx.emit(node, "add_i8", list(node.inputs), out, {
        **_add_scales(ta, tb, out), "clamp": _q_bounds(node.attrs.get("clamp"), out.qparams)},
        {})


def _add_scales(ta: Tensor, tb: Tensor, out: Tensor) -> dict[str, list[int]]:
    """TFLite's add: both inputs to twice the larger scale with 2^20 headroom."""
    twice_max = 2.0 * max(ta.qparams.scale, tb.qparams.scale)
    return {"scale_a": list(quantize_multiplier(ta.qparams.scale / twice_max)),
            "scale_b": list(quantize_multiplier(tb.qparams.scale / twice_max)),
            "scale_out": list(quantize_multiplier(twice_max / (2**20 * out.qparams.scale)))}


def _add_into(cx: _Context, node: Node) -> None:
    """MeliusNet's improvement: an add into a channel range of the first input. The
    output's range was shared with that input's (``_shared_ranges``), so both get the
    same quantization, the other channels stay as they are and the C adds in place."""
    tx, tw = (cx.t(i) for i in node.inputs)
    if "bits" in (tx.dtype, tw.dtype):
        raise cx.fail(node, "add into a channel range of binary activations; add the int8 "
                            "outputs of the layers instead")
    out = cx.new(node.outputs[0], "int8", cx.calibrated(node.outputs[0]))
    rescale = list(quantize_multiplier(tx.qparams.scale / out.qparams.scale))
    cx.emit(node, "add_into_i8", list(node.inputs), out, {
        "offset": node.attrs["offset"], **_add_scales(tx, tw, out), "clamp": [-128, 127],
        "rescale": rescale}, {})


def _shared_ranges(graph: Graph, ranges: dict[str, tuple[float, float]]
                   ) -> dict[str, tuple[float, float]]:
    """Ranges where every add_into's output and first input (and so chains of them)
    have the union of their ranges: one quantization, so the add runs in place."""
    group: dict[str, str] = {}

    def root(name: str) -> str:
        while group.get(name, name) != name:
            name = group[name]
        return name

    for node in graph.nodes:
        if node.op == "add_into" and node.inputs[0] in ranges:
            group[root(node.outputs[0])] = root(node.inputs[0])
    if not group:
        return ranges
    union: dict[str, tuple[float, float]] = {}
    for name in ranges:
        r, (lo, hi) = root(name), ranges[name]
        old = union.get(r, (lo, hi))
        union[r] = (min(old[0], lo), max(old[1], hi))
    return {name: union[root(name)] for name in ranges}


def _concat(cx: _Context, node: Node) -> None:
    ins = [cx.t(i) for i in node.inputs]
    dtypes = {t.dtype for t in ins}
    if dtypes == {"bits"}:
        out = cx.new(node.outputs[0], "bits")
        cx.emit(node, "concat_bits", list(node.inputs), out, {}, {})
        return
    if "bits" in dtypes:
        raise cx.fail(node, "torch.cat of binary and real-valued activations")
    out = cx.new(node.outputs[0], "int8", cx.calibrated(node.outputs[0]))
    rescale = [list(quantize_multiplier(t.qparams.scale / out.qparams.scale)) for t in ins]
    cx.emit(node, "concat_i8", list(node.inputs), out, {"rescale": rescale}, {})


#: The lowering of each float op, in the order of ``ir/ops.py``.
RULES: dict[str, Callable[[_Context, Node], None]] = {
    "conv": _conv, "affine": _affine, "act": _act, "sign": _sign, "maxpool": _maxpool,
    "avgpool": _avgpool, "add": _add, "concat": _concat, "add_into": _add_into,
    "kconv": _kconv,
}


def quantize(graph: Graph, normalize: dict | None = None) -> Graph:
    """Calibrated float graph -> integer graph (raw uint8 input if ``normalize``)."""
    cx = _Context(graph, normalize)
    _input(cx)
    for node in graph.nodes:
        rule = RULES.get(node.op)
        if rule is None:
            raise cx.fail(node, f"node {node.name}: op {node.op!r} is not a float op; "
                                f"quantize lowers float graphs only")
        rule(cx, node)
    outputs = tuple(cx.alias.get(o, o) for o in graph.outputs)
    lowered = Graph(dict(cx.tensors), tuple(cx.nodes), (graph.inputs[0],), outputs,
                    {k: v for k, v in graph.meta.items() if k != "ranges"})
    return prune(lowered)
