"""torch.export program -> float-level bnnkit IR.

Walks the exported ATen graph once. Computations on parameters alone
(``sign(weight)``, XNOR's ``mean(|w|)``, transposes) are evaluated here, so
the IR sees constants. Every other op maps to one float-level IR op, NCHW
becomes NHWC, and ``flatten`` followed by ``linear`` becomes a convolution
whose kernel covers the whole feature map (weights permuted to HWC order).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch

from .. import nn
from ..errors import ModelFileError, UnsupportedModelError
from ..ir.graph import Graph, Node, Tensor
from ..nn import input_scale as _bnnkit_input_scale  # noqa: F401 - torch.ops.bnnkit.input_scale
from ..nn import int8_activations as _bnnkit_fake_int8  # noqa: F401 - bnnkit.fake_int8
from ..nn import sign as _bnnkit_sign  # noqa: F401 - registers torch.ops.bnnkit.sign
from .passes.calibrate import TRAINED

aten = torch.ops.aten

@dataclass(frozen=True)
class Value:
    """A traced activation: an IR tensor and how torch sees it."""

    name: str
    rank: int                              # torch rank: 4 (NCHW) or 2 (N, F)
    flat_of: tuple[int, int, int] | None = None  # (C, H, W) when a feature map was flattened
    pad: tuple[int, int, int, int, float] | None = None  # pending F.pad (t, l, b, r, value)
    chan: tuple[int, int] | None = None    # channels [start, stop) of the tensor: x[:, a:b]
    cpad: tuple[int, int] | None = None    # pending zero F.pad of channels (front, back)
    groups: tuple[int, int, bool] | None = None  # shuffle's 5-D view (g, C/g, transposed)
    perm: tuple[int, ...] | None = None    # pending channel shuffle: channel j is x[perm[j]]


@dataclass
class _Builder:
    tensors: dict[str, Tensor] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)

    def add(self, op: str, inputs: list[Value], out_name: str, shape: tuple[int, ...],
            dtype: str, source: str, attrs: dict | None = None,
            arrays: dict | None = None) -> str:
        self.tensors[out_name] = Tensor(out_name, tuple(int(d) for d in shape), dtype)
        node = Node(out_name, op, tuple(v.name for v in inputs), (out_name,), attrs or {},
                    {k: np.asarray(a, dtype=np.float32 if a.dtype.kind == "f" else a.dtype)
                     for k, a in (arrays or {}).items()}, source)
        require_finite(node)
        self.nodes.append(node)
        return out_name


def require_finite(node: Node) -> None:
    """NaN or Inf in a layer's constants would become garbage integers in C."""
    for role, arr in node.arrays.items():
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ModelFileError(
                f"layer {node.name}{' at ' + node.source if node.source else ''}: its {role} "
                f"is NaN or Inf in {int((~np.isfinite(arr)).sum())} of {arr.size} values "
                f"(from NaN/Inf parameters, a negative BatchNorm variance, or values too large "
                f"for float32); fix the model (did training diverge?) and save it again")


def refused_nodes(program: torch.export.ExportedProgram) -> list[str]:
    """Every op on the input's path that no handler takes, with its model line and the
    nearest alternative: all of them at once, where the export stops at the first."""
    users = {spec.arg.name for spec in program.graph_signature.input_specs
             if spec.kind.name == "USER_INPUT"}
    fe, found = _Frontend(program), []
    for node in program.graph.nodes:
        if node.op != "call_function" or not any(a.name in users for a in node.all_input_nodes):
            continue
        users.add(node.name)
        if node.target not in HANDLERS:
            where, instead = fe.source(node), alternative(node.target)
            found.append(f"{_op_name(node.target).split('.')[0]}{' at ' + where if where else ''}"
                         f"{' (instead use ' + instead + ')' if instead else ''}")
    return found


def from_exported(program: torch.export.ExportedProgram) -> Graph:
    """Translate an ExportedProgram (eval mode, one tensor input) to float IR."""
    fx = _Frontend(program)
    return fx.run()


class _Frontend:
    def __init__(self, program: torch.export.ExportedProgram) -> None:
        self.program = program
        self.b = _Builder()
        self.env: dict[str, Any] = {}
        self.added_into: dict[str, tuple[str, int, int]] = {}  # out: (x, start, stop)
        self.trained: dict[str, dict] = {}      # tensor: its fake_int8 grid and range
        self.torch_names: dict[str, str] = {}   # tensor: torch's node of another name

    # -- driving ---------------------------------------------------------
    def run(self) -> Graph:
        sig = self.program.graph_signature
        consts = {**self.program.state_dict, **self.program.constants}
        user_inputs = []
        for spec in sig.input_specs:
            if spec.kind.name == "USER_INPUT":
                user_inputs.append(spec.arg.name)
            elif spec.target in consts:
                value = consts[spec.target].detach()
                self.env[spec.arg.name] = value
                if value.is_floating_point() and not torch.isfinite(value).all():
                    self._nonfinite(spec.arg.name, spec.target, value)
        if len(user_inputs) != 1:
            raise UnsupportedModelError(
                f"the model takes {len(user_inputs)} tensor inputs; bnnkit models take exactly one")
        outputs: list[Value] = []
        for node in self.program.graph.nodes:
            if node.op == "placeholder":
                if node.name in user_inputs:
                    self.env[node.name] = self._input(node)
            elif node.op == "call_function":
                self.env[node.name] = self._call(node)
            elif node.op == "output":
                outputs = [self.env[a.name] for a in node.args[0]]
        if len(outputs) != 1 or not isinstance(outputs[0], Value):
            raise UnsupportedModelError("the model must return exactly one tensor computed "
                                        "from its input")
        out = outputs[0]
        if out.flat_of is not None and out.flat_of[1:] != (1, 1):
            raise UnsupportedModelError("the model returns a flattened feature map; flatten "
                                        "only before a Linear layer")
        if out.perm is not None or out.groups is not None:
            raise UnsupportedModelError("the model ends in a channel shuffle; a shuffle "
                                        "folds into a following convolution only")
        meta = {
            "input": {"torch_shape": self._input_shape},
            "outputs": [{"torch_shape": self._torch_shape(out)}],
        }
        if self.trained:
            meta[TRAINED] = self.trained
        if self.torch_names:
            meta["torch_names"] = self.torch_names
        return Graph(dict(self.b.tensors), tuple(self.b.nodes), (self._input_name,),
                     (out.name,), meta)

    def _input(self, node: Any) -> Value:
        shape = tuple(node.meta["val"].shape)
        if len(shape) == 4:
            nhwc = (1, shape[2], shape[3], shape[1])
        elif len(shape) == 2:
            nhwc = (1, 1, 1, shape[1])
        else:
            raise UnsupportedModelError(
                f"input of shape {shape}: bnnkit takes images (N, C, H, W) or vectors (N, F)")
        self._input_name = node.name
        self._input_shape = [1, *shape[1:]]
        self.b.tensors[node.name] = Tensor(node.name, nhwc, "float32")
        return Value(node.name, len(shape))

    def _call(self, node: Any) -> Any:
        args = [self._arg(a) for a in node.args]
        kwargs = {k: self._arg(v) for k, v in node.kwargs.items()}
        if not _has_value(args) and not _has_value(list(kwargs.values())):
            with torch.no_grad():  # parameters only: fold to a constant now
                return node.target(*args, **kwargs)
        handler = HANDLERS.get(node.target)
        if handler is None:
            raise self._unsupported(node, f"op {_op_name(node.target)} is not supported")
        return handler(self, node, args, kwargs)

    def _arg(self, a: Any) -> Any:
        if isinstance(a, torch.fx.Node):
            return self.env[a.name]
        if isinstance(a, list | tuple):
            return type(a)(self._arg(x) for x in a)
        return a

    # -- helpers -----------------------------------------------------------
    def shape(self, v: Value) -> tuple[int, int, int, int]:
        return self.b.tensors[v.name].shape

    def dtype(self, v: Value) -> str:
        return self.b.tensors[v.name].dtype

    def _torch_shape(self, v: Value) -> list[int]:
        _, h, w, c = self.shape(v)
        return [1, c, h, w] if v.rank == 4 else [1, h * w * c]

    def source(self, node: Any) -> str:
        stack = node.meta.get("nn_module_stack") or {}
        where = ""
        if stack:
            path, cls = list(stack.values())[-1]
            cls_name = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
            where = f"{path or '<root>'} ({cls_name.rsplit('.', 1)[-1]})"
        trace = (node.meta.get("stack_trace") or "").strip().splitlines()
        frames = [f for f in map(user_frame, trace) if f]
        if frames:
            where = f"{where}, {frames[-1]}" if where else frames[-1]
        return where

    def _nonfinite(self, placeholder: str, target: str, value: torch.Tensor) -> None:
        """Checked on the parameter itself, as sign(weight) would hide a NaN; an unused
        buffer (BatchNorm's num_batches_tracked) does no harm."""
        users = [u for n in self.program.graph.nodes if n.name == placeholder for u in n.users]
        if users:
            where = self.source(users[0])
            raise ModelFileError(
                f"parameter {target}{' of layer ' + where if where else ''} is NaN or Inf in "
                f"{int((~torch.isfinite(value)).sum())} of {value.numel()} values; fix the "
                f"model (did training diverge?) and save it again")

    def _unsupported(self, node: Any, what: str) -> UnsupportedModelError:
        where = self.source(node)
        instead = alternative(node.target)
        return UnsupportedModelError(
            f"{what}{' at ' + where if where else ''}"
            f"{'; instead use ' + instead if instead else ''}. Supported: {supported_text()}")

    def plain(self, node: Any, v: Any) -> Value:
        """An activation with no pending pad or flatten, for ops that need one."""
        if not isinstance(v, Value):
            raise self._unsupported(node, f"{_op_name(node.target)} on a non-tensor argument")
        if v.pad is not None:
            raise self._unsupported(node, "F.pad is only supported right before a convolution or a "
                                          "pool")
        if v.chan is not None:
            raise self._unsupported(node, f"{_op_name(node.target)} of a channel slice "
                                          f"x[:, {v.chan[0]}:{v.chan[1]}]; a slice exports as "
                                          f"torch.cat([x[:, :k], x[:, k:] + w], 1) only")
        if v.cpad is not None:
            raise self._unsupported(node, f"{_op_name(node.target)} of channels padded with "
                                          f"F.pad; it exports as x + F.pad(w, (0, 0, 0, 0, k, "
                                          f"0)) only")
        if v.perm is not None or v.groups is not None:
            raise self._unsupported(node, f"{_op_name(node.target)} after a channel shuffle; "
                                          f"a shuffle folds into the next convolution (not "
                                          f"grouped), through BatchNorm, activations and "
                                          f"signs: put one right after it")
        if v.flat_of is not None and v.flat_of[1:] != (1, 1):
            raise self._unsupported(node, f"{_op_name(node.target)} after flatten of a "
                                          f"{v.flat_of[1]}x{v.flat_of[2]} feature map")
        return v


_FRAME = re.compile(r'\s*File "(?P<path>[^"]*)", line (?P<line>\d+)(?P<rest>.*)')
# Frames of torch, the standard library, installed packages and bnnkit's own
# layers, recognized by the shape of the path on the machine that saved the
# model (any prefix, either separator), never by this machine's directories.
_LAYER_FILES = "|".join(re.escape(p.name) for p in sorted(Path(nn.__file__).parent.glob("*.py")))
_LIBRARY_PATH = re.compile(r"(^<)|/(site|dist)-packages/|/lib/python\d[^/]*/|(^|/)torch/"
                           rf"|(^|/)nn/({_LAYER_FILES})$")


def user_frame(line: str) -> str | None:
    """A stack-trace line of the user's own code, with the file's name only (no
    directory of the saving machine), or None for library frames and other lines."""
    m = _FRAME.match(line)
    if m is None:
        return None
    path = m["path"].replace("\\", "/")
    if _LIBRARY_PATH.search(path):
        return None
    return f'File "{PurePosixPath(path).name}", line {m["line"]}{m["rest"]}'


def _has_value(args: list) -> bool:
    return any(isinstance(a, Value) or (isinstance(a, list | tuple) and _has_value(list(a)))
               for a in args)


def _op_name(target: Any) -> str:
    return str(getattr(target, "__name__", target))


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _pair(v: Any, default: int) -> tuple[int, int]:
    if v is None or (isinstance(v, list | tuple) and len(v) == 0):
        return default, default
    if isinstance(v, int):
        return v, v
    return (int(v[0]), int(v[-1])) if len(v) else (default, default)


def _channel_vector(node: Any, fe: _Frontend, const: Any, c: int, what: str) -> np.ndarray:
    arr = _np(const).astype(np.float64)
    squeezed = arr.reshape(-1) if arr.size in (1, c) else None
    if squeezed is None or (arr.ndim >= 1 and arr.size == c and c > 1 and
                            arr.shape[-3 if arr.ndim >= 3 else -1] != c):
        raise fe._unsupported(node, f"{what} by a constant of shape {tuple(arr.shape)}; only "
                                    f"per-channel or scalar constants are supported")
    return np.broadcast_to(squeezed, (c,)).copy()


# -- op handlers ------------------------------------------------------------

def _conv(fe: _Frontend, node: Any, x: Value, weight: Any, bias: Any, stride: Any,
          padding: Any, dilation: Any, groups: int) -> Value:
    if isinstance(weight, Value) or (bias is not None and isinstance(bias, Value)):
        raise fe._unsupported(node, "convolution with weights computed from the input")
    dh, dw = _pair(dilation, 1)
    w = _np(weight).astype(np.float64)  # O, I/g, KH, KW
    o, _, kh, kw = w.shape
    x, perm = _unshuffled(x)
    shift = np.zeros(o) if bias is None else _np(bias).astype(np.float64)
    if perm is not None and groups == 1:  # channel j of the input is x[perm[j]]
        w = w[:, np.argsort(perm)]
        perm = None
    elif perm is not None and (groups != o or w.shape[1] != 1):
        raise fe._unsupported(node, f"channel shuffle before a grouped convolution (groups="
                                    f"{groups}): its groups would mix; shuffle before a "
                                    f"convolution with groups=1 (or a depthwise one)")
    elif perm is not None:  # depthwise: the shuffle moves to its output
        w, shift, groups = w[np.argsort(perm)], shift[np.argsort(perm)], o
    ph, pw = _pair(padding, 0)
    pads = [ph, pw, ph, pw]
    pad_value = 0.0
    if x.pad is not None:
        t, lft, btm, r, value = x.pad
        if any(pads) and value != 0.0:
            raise fe._unsupported(node, "F.pad with a non-zero value plus conv padding")
        pads = [pads[0] + t, pads[1] + lft, pads[2] + btm, pads[3] + r]
        pad_value = value
        x = Value(x.name, x.rank)
    x = fe.plain(node, x)
    n, h, wd, c = fe.shape(x)
    sh, sw = _pair(stride, 1)
    oh = (h + pads[0] + pads[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pads[1] + pads[3] - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise fe._unsupported(node, f"convolution with kernel {kh}x{kw} on a {h}x{wd} input")
    shift = np.zeros(o) if bias is None else _np(bias).astype(np.float64)
    attrs = {"stride": [sh, sw], "padding": pads, "pad_value": pad_value, "groups": int(groups)}
    if (dh, dw) != (1, 1):
        attrs["dilation"] = [dh, dw]
    name = fe.b.add("conv", [x], node.name, (n, oh, ow, o), "float32", fe.source(node), attrs,
                    {"weight": np.transpose(w, (0, 2, 3, 1)), "scale": np.ones(o),
                     "shift": shift})
    return _reshuffled(Value(name, 4), perm)


def h_conv2d(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    a = args + [None] * (7 - len(args))
    stride, padding, dilation = kw.get("stride", a[3]), kw.get("padding", a[4]), \
        kw.get("dilation", a[5])
    groups = kw.get("groups", a[6] if a[6] is not None else 1)
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        else:
            kh, kwid = _np(args[1]).shape[2:]
            if (kh % 2 == 0) or (kwid % 2 == 0):
                raise fe._unsupported(node, "padding='same' with an even kernel")
            dh, dw = _pair(dilation, 1)
            padding = [dh * (kh // 2), dw * (kwid // 2)]
    return _conv(fe, node, args[0], args[1], kw.get("bias", a[2]), stride, padding, dilation,
                 groups)


def h_convolution(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    x, w, b, stride, padding, dilation, transposed, _, groups = args
    if transposed:
        raise fe._unsupported(node, "transposed convolution")
    return _conv(fe, node, x, w, b, stride, padding, dilation, groups)


def h_linear(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    x, weight = args[0], args[1]
    bias = args[2] if len(args) > 2 else kw.get("bias")
    if isinstance(weight, Value):
        raise fe._unsupported(node, "linear layer with weights computed from the input")
    w = _np(weight).astype(np.float64)  # O, F
    if x.flat_of is not None:
        c, h, wd = x.flat_of
        src = Value(x.name, 4)
        w4 = w.reshape(w.shape[0], c, h, wd)  # torch flattens in C, H, W order
    else:
        src = fe.plain(node, x)
        _, h, wd, c = fe.shape(src)
        if (h, wd) != (1, 1):
            raise fe._unsupported(node, "linear layer on a feature map; flatten it first")
        w4 = w.reshape(w.shape[0], c, 1, 1)
    v = _conv(fe, node, src, torch.from_numpy(w4), bias, 1, 0, 1, 1)
    return Value(v.name, 2)


def h_addmm(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    bias, x, wt = args[0], args[1], args[2]
    return h_linear(fe, node, [x, _np(wt).T, bias], {})


def _reshuffled(v: Value, perm: np.ndarray | None) -> Value:
    """``v`` with a pending channel shuffle again (a channel-wise op passed it on)."""
    return v if perm is None else Value(v.name, v.rank, perm=tuple(int(i) for i in perm))


def _affine(fe: _Frontend, node: Any, x: Value, scale: np.ndarray,
            shift: np.ndarray) -> Value:
    x, perm = _unshuffled(x)
    if perm is not None:  # per-channel constants follow their channels back
        inverse = np.argsort(perm)
        scale, shift = scale[inverse], shift[inverse]
    x = fe.plain(node, x)
    shape = fe.shape(x)
    name = fe.b.add("affine", [x], node.name, shape, "float32", fe.source(node), {},
                    {"scale": scale, "shift": shift})
    return _reshuffled(Value(name, x.rank), perm)


def h_batch_norm(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    if node.target == aten.batch_norm.default:
        x, gamma, beta, mean, var, training, _, eps = args[:8]
        if training:
            raise fe._unsupported(node, "BatchNorm in training mode; call model.eval()")
    else:  # _native_batch_norm_legit_no_training: (x, w, b, mean, var, momentum, eps)
        x, gamma, beta, mean, var, _, eps = args[:7]
    c = fe.shape(fe.plain(node, _unshuffled(x)[0]))[3]
    gamma = np.ones(c) if gamma is None else _np(gamma).astype(np.float64)
    beta = np.zeros(c) if beta is None else _np(beta).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):  # require_finite names the layer
        s = gamma / np.sqrt(_np(var).astype(np.float64) + eps)
    return _affine(fe, node, x, s, beta - s * _np(mean).astype(np.float64))


def _act(fe: _Frontend, node: Any, x: Value, slope: Any, lo: float | None,
         hi: float | None) -> Value:
    slope = np.asarray(slope, dtype=np.float64).reshape(-1)
    x, perm = _unshuffled(x)
    if perm is not None and slope.size > 1:
        slope = slope[np.argsort(perm)]
    x, flat_of = _elementwise(fe, node, x) if slope.size == 1 else (fe.plain(node, x), None)
    shape = fe.shape(x)
    slope_arr = np.broadcast_to(slope, (shape[3],)).copy()
    name = fe.b.add("act", [x], node.name, shape, "float32", fe.source(node),
                    {"clamp": [lo, hi]}, {"slope": slope_arr})
    return _reshuffled(Value(name, 2 if flat_of else x.rank, flat_of=flat_of), perm)


def h_relu(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    return _act(fe, node, args[0], 0.0, None, None)


def h_relu6(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    return _act(fe, node, args[0], 0.0, None, 6.0)


def h_hardtanh(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    lo = args[1] if len(args) > 1 else kw.get("min_val", -1.0)
    hi = args[2] if len(args) > 2 else kw.get("max_val", 1.0)
    return _act(fe, node, args[0], 1.0, float(lo), float(hi))


def h_clamp(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    lo = args[1] if len(args) > 1 else kw.get("min")
    hi = args[2] if len(args) > 2 else kw.get("max")
    return _act(fe, node, args[0], 1.0, None if lo is None else float(lo),
                None if hi is None else float(hi))


def h_prelu(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    return _act(fe, node, args[0], _np(args[1]), None, None)


def h_leaky_relu(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    return _act(fe, node, args[0], args[1] if len(args) > 1 else 0.01, None, None)


def _elementwise(fe: _Frontend, node: Any, x: Any) -> tuple[Value, Any]:
    """The 4-D tensor under ``x`` and what to flatten the result to, for ops that
    act on each element alike and so commute with flatten."""
    if isinstance(x, Value) and x.flat_of is not None and x.pad is None:
        return Value(x.name, 4), x.flat_of
    return fe.plain(node, x), None


def h_sign(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    unshuffled, perm = _unshuffled(args[0])
    x, flat_of = _elementwise(fe, node, unshuffled)
    if fe.dtype(x) == "bits":
        return args[0]  # already +-1
    name = fe.b.add("sign", [x], node.name, fe.shape(x), "bits", fe.source(node))
    return _reshuffled(Value(name, 2 if flat_of else x.rank, flat_of=flat_of), perm)


def h_pad(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    x, pad = args[0], list(args[1])
    mode = args[2] if len(args) > 2 and isinstance(args[2], str) else kw.get("mode", "constant")
    value = args[-1] if node.target == aten.constant_pad_nd.default else (
        args[3] if len(args) > 3 else kw.get("value"))
    if (mode == "constant" and len(pad) == 6 and not any(pad[:4]) and min(pad) >= 0
            and not value and isinstance(x, Value) and x.rank == 4):
        return Value(fe.plain(node, x).name, 4, cpad=(pad[4], pad[5]))  # for add_into
    if mode != "constant" or len(pad) != 4 or min(pad) < 0:
        raise fe._unsupported(node, f"F.pad(mode={mode!r}, pad={pad}); only constant padding "
                                    f"of H and W before a conv or a pool")
    x = fe.plain(node, x)
    lft, r, t, btm = pad
    return Value(x.name, x.rank, pad=(t, lft, btm, r, float(value or 0.0)))


def _ceil_extra(size: int, kernel: int, stride: int, pad: int) -> int:
    """Padding ceil_mode=True adds after the input: PyTorch's last window may run past
    the end, as long as it starts inside the input or the padding before it."""
    out = -(-(size + 2 * pad - kernel) // stride) + 1
    if (out - 1) * stride >= size + pad:
        out -= 1
    return max(0, (out - 1) * stride + kernel - (size + 2 * pad))


def _window(fe: _Frontend, node: Any, x: Value, kernel: Any, stride: Any, padding: Any,
            ceil_mode: bool) -> tuple[Value, dict, tuple, tuple[bool, bool]]:
    """A pool's input, attributes and output shape, with the padding of an F.pad right
    before it and ceil_mode's extra bottom and right padding added to its own. Also
    returns whether an F.pad and whether ceil_mode padded: the caller checks that
    its op pads with what PyTorch's pool sees there."""
    pre = (0, 0, 0, 0)
    if isinstance(x, Value) and x.pad is not None:
        pre, x = x.pad[:4], Value(x.name, x.rank)
    x = fe.plain(node, x)
    n, h, w, c = fe.shape(x)
    h, w = h + pre[0] + pre[2], w + pre[1] + pre[3]  # what the torch pool sees
    kh, kw = _pair(kernel, 1)
    sh, sw = _pair(stride, 0)
    if sh == 0:
        sh, sw = kh, kw
    ph, pw = _pair(padding, 0)
    eh, ew = (_ceil_extra(h, kh, sh, ph), _ceil_extra(w, kw, sw, pw)) if ceil_mode else (0, 0)
    oh, ow = (h + 2 * ph + eh - kh) // sh + 1, (w + 2 * pw + ew - kw) // sw + 1
    attrs = {"kernel": [kh, kw], "stride": [sh, sw],
             "padding": [ph + pre[0], pw + pre[1], ph + pre[2] + eh, pw + pre[3] + ew]}
    return x, attrs, (n, oh, ow, c), (any(pre), eh + ew > 0)


def _non_negative(fe: _Frontend, name: str) -> bool:
    """The tensor comes from a ReLU (or a clamp at >= 0): no value is below 0."""
    src = next((n for n in fe.b.nodes if n.outputs[0] == name), None)
    if src is None or src.op not in ("act", "conv", "add"):
        return False
    lo = (src.attrs.get("clamp") or [None, None])[0]
    if lo is not None:
        return lo >= 0
    return src.op == "act" and not np.any(src.arrays["slope"])


def h_max_pool(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    a = args + [None] * (6 - len(args))
    if _pair(a[4], 1) != (1, 1):
        raise fe._unsupported(node, "dilated max-pooling")
    pad = a[0].pad if isinstance(a[0], Value) else None
    x, attrs, shape, _ = _window(fe, node, a[0], a[1], a[2], a[3], bool(a[5]))
    # maxpool's padding never wins: an F.pad's value must not either
    if pad is not None and not (pad[4] == -math.inf or
                                (pad[4] == 0.0 and _non_negative(fe, x.name))):
        raise fe._unsupported(node, f"F.pad with value {pad[4]} before a max-pool (exact only "
                                    f"with -inf, or 0 after a ReLU)")
    out_dtype = "bits" if fe.dtype(x) == "bits" else "float32"
    if pad is not None and out_dtype == "bits":
        raise fe._unsupported(node, "F.pad before a max-pool of binary activations")
    name = fe.b.add("maxpool", [x], node.name, shape, out_dtype, fe.source(node), attrs)
    return Value(name, 4)


def h_avg_pool(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    a = args + [None] * (7 - len(args))
    if a[6] is not None:
        raise fe._unsupported(node, "avg_pool2d with divisor_override")
    pad = a[0].pad if isinstance(a[0], Value) else None
    if pad is not None and pad[4] != 0.0:
        raise fe._unsupported(node, f"F.pad with value {pad[4]} before an average pool; only "
                                    f"zero padding")
    x, attrs, shape, (padded, overhang) = _window(fe, node, a[0], a[1], a[2], a[3], bool(a[4]))
    include = True if a[5] is None else bool(a[5])
    own = any(_pair(a[3], 0))
    # PyTorch divides by the window's inputs, F.pad's zeros included, its own padding
    # iff count_include_pad, ceil_mode's overhang never; the op counts all or no padding
    if not overhang and not padded:
        attrs["count_include_pad"] = include
    elif not overhang and (include or not own):
        attrs["count_include_pad"] = True
    elif not padded and (not include or not own):
        attrs["count_include_pad"] = False
    else:
        raise fe._unsupported(node, "average pool counting some of its padding but not all "
                                    "(F.pad, count_include_pad and ceil_mode); pad with F.pad "
                                    "only, or use count_include_pad=False without F.pad")
    name = fe.b.add("avgpool", [x], node.name, shape, "float32", fe.source(node), attrs)
    return Value(name, 4)


def _global_avg(fe: _Frontend, node: Any, x: Value, rank: int) -> Value:
    x = fe.plain(node, x)
    n, h, w, c = fe.shape(x)
    attrs = {"kernel": [h, w], "stride": [h, w], "padding": [0, 0, 0, 0],
             "count_include_pad": True}
    name = fe.b.add("avgpool", [x], node.name, (n, 1, 1, c), "float32", fe.source(node), attrs)
    return Value(name, rank)


def h_adaptive_avg(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    if _pair(args[1], 1) != (1, 1):
        raise fe._unsupported(node, f"AdaptiveAvgPool2d({list(args[1])}); only output size 1")
    return _global_avg(fe, node, args[0], 4)


def h_mean(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    dims = sorted(d % 4 for d in args[1])
    keep = args[2] if len(args) > 2 else kw.get("keepdim", False)
    if dims != [2, 3] or args[0].rank != 4:
        raise fe._unsupported(node, f"mean over dims {list(args[1])}; only over H and W")
    return _global_avg(fe, node, args[0], 4 if keep else 2)


def h_flatten(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    x = fe.plain(node, args[0])
    start = args[1] if len(args) > 1 else 0
    end = args[2] if len(args) > 2 else -1
    if x.rank == 2:
        return x
    if start != 1 or end not in (-1, 3):
        raise fe._unsupported(node, f"flatten(start_dim={start}, end_dim={end}); only "
                                    f"flatten(1)")
    _, h, w, c = fe.shape(x)
    return Value(x.name, 2, flat_of=(c, h, w))


def h_view(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    x, shape = args[0], list(args[1])
    if x.groups is not None and len(shape) == 4:
        return _shuffled(fe, node, x, shape)
    if x.rank == 4 and len(shape) == 5:
        _, h, w, c = fe.shape(fe.plain(node, _unshuffled(x)[0]))
        if shape[1] * shape[2] == c and shape[3:] == [h, w]:
            return Value(x.name, 5, groups=(shape[1], shape[2], False), perm=x.perm)
    if x.rank == 4 and len(shape) == 2:
        return h_flatten(fe, node, [x, 1], {})
    if x.rank == 2 and len(shape) == 4 and shape[2:] == [1, 1]:
        return Value(fe.plain(node, x).name, 4)
    if len(shape) == x.rank:
        return x
    raise fe._unsupported(node, f"reshape to {shape}")


def _shuffled(fe: _Frontend, node: Any, x: Value, shape: list) -> Value:
    """The 5-D view (g, C/g) back to C channels: with its two group axes swapped, a
    channel shuffle, pending until a convolution folds it into its weights."""
    g, per_group, transposed = x.groups
    _, h, w, c = fe.shape(x)
    if list(shape[1:]) != [c, h, w]:
        raise fe._unsupported(node, f"reshape of a channel view to {shape}")
    before = np.arange(c) if x.perm is None else np.asarray(x.perm)  # an earlier shuffle
    if not transposed:
        return _reshuffled(Value(x.name, 4), x.perm)
    # view (g, C/g) then transpose: channel b * g + a of the result is a * C/g + b
    return _reshuffled(Value(x.name, 4), before[np.arange(c).reshape(g, per_group).T.ravel()])


def h_transpose(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    x, dims = args[0], sorted(d % 5 for d in args[1:3])
    if x.groups is None or dims != [1, 2]:
        raise fe._unsupported(node, "transpose; only the channel shuffle x.view(n, g, c // g, "
                                    "h, w).transpose(1, 2) exports")
    g, per_group, transposed = x.groups
    return Value(x.name, 5, groups=(g, per_group, not transposed), perm=x.perm)


def h_permute(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    if [d % 5 for d in args[1]] != [0, 2, 1, 3, 4]:
        raise fe._unsupported(node, "permute; only the channel shuffle x.view(n, g, c // g, "
                                    "h, w).permute(0, 2, 1, 3, 4) exports")
    return h_transpose(fe, node, [args[0], 1, 2], {})


def _unshuffled(v: Value) -> tuple[Value, np.ndarray | None]:
    """The tensor under a pending channel shuffle, and the shuffle (None if none)."""
    if v.perm is None:
        return v, None
    return Value(v.name, v.rank), np.asarray(v.perm)


def h_identity(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    return args[0]


def h_dropout(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    if len(args) > 2 and args[2]:
        raise fe._unsupported(node, "dropout in training mode; call model.eval()")
    return args[0]


def h_sym_size(fe: _Frontend, node: Any, args: list, kw: dict) -> int:
    """x.size(d): the batch is 1 in the IR; other sizes are static."""
    v, dim = args
    return 1 if dim == 0 else fe._torch_shape(v)[dim]


def h_getitem(fe: _Frontend, node: Any, args: list, kw: dict) -> Any:
    seq, index = args
    if isinstance(seq, Value):
        if index != 0:
            raise fe._unsupported(node, "use of max-pool indices or batch-norm statistics")
        return seq
    return seq[index]


def h_add(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    a, b = args[0], args[1]
    alpha = kw.get("alpha", 1)
    if isinstance(a, Value) and isinstance(b, Value) and any(
            v.chan is not None or v.cpad is not None for v in (a, b)):
        if alpha != 1 or node.target == aten.sub.Tensor:
            raise fe._unsupported(node, "subtraction from a channel range; add into it")
        return _add_into(fe, node, a, b)
    if isinstance(a, Value) and isinstance(b, Value):
        if alpha != 1:
            raise fe._unsupported(node, "add with alpha")
        a, b = fe.plain(node, a), fe.plain(node, b)
        if fe.shape(a) != fe.shape(b):
            raise fe._unsupported(node, f"add of shapes {fe.shape(a)} and {fe.shape(b)}")
        name = fe.b.add("add", [a, b], node.name, fe.shape(a), "float32", fe.source(node))
        return Value(name, a.rank)
    x, const = (a, b) if isinstance(a, Value) else (b, a)
    sign = -1.0 if node.target == aten.sub.Tensor else 1.0
    c = fe.shape(fe.plain(node, x))[3]
    shift = _channel_vector(node, fe, const, c, "add") * alpha
    if node.target == aten.sub.Tensor and not isinstance(a, Value):  # const - x
        return _affine(fe, node, x, -np.ones(c), shift)
    return _affine(fe, node, x, np.ones(c), sign * shift)


def _add_into(fe: _Frontend, node: Any, a: Value, b: Value) -> Value:
    """MeliusNet's improvement block: ``x + F.pad(w, (0, 0, 0, 0, k, 0))``, or the add
    in ``torch.cat([x[:, :k], x[:, k:] + w], 1)``: w added into channels k.. of x. The
    slice form gives the slice of the whole result; h_cat puts it back together."""
    (x, w) = (a, b) if b.cpad is not None or a.chan is not None else (b, a)
    if w.chan is not None or x.cpad is not None:
        raise fe._unsupported(node, "add of two channel slices or padded tensors; add one "
                                    "tensor into a channel range of a whole one")
    cw = fe.shape(fe.plain(node, Value(w.name, w.rank)))[3]
    c = fe.shape(Value(x.name, x.rank))[3]
    if w.cpad is not None:
        (start, stop), whole = (w.cpad[0], c - w.cpad[1]), x
    else:
        (start, stop), whole = x.chan, Value(x.name, x.rank)
    whole = fe.plain(node, whole)
    if stop - start != cw or fe.shape(whole)[:3] != fe.shape(Value(w.name, 4))[:3]:
        raise fe._unsupported(node, f"add of {cw} channels into channels {start}..{stop - 1} "
                                    f"of {fe.shape(whole)}")
    w = Value(w.name, w.rank)
    # in the slice form, torch's tensor of this name is the slice: the whole is not its twin
    out = node.name if x.chan is None else f"{node.name}_whole"
    name = fe.b.add("add_into", [whole, w], out, fe.shape(whole), "float32",
                    fe.source(node), {"offset": start})
    fe.added_into[name] = (whole.name, start, stop)
    return Value(name, 4) if x.chan is None else Value(name, 4, chan=(start, stop))


def h_slice(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    a = args + [None] * (5 - len(args))
    x, dim, step = a[0], a[1] or 0, a[4] or 1
    if not isinstance(x, Value) or x.rank != 4 or dim % 4 not in (0, 1) or step != 1:
        raise fe._unsupported(node, "slicing other than a channel range x[:, a:b]")
    x = fe.plain(node, x)
    size = 1 if dim % 4 == 0 else fe.shape(x)[3]
    start, stop, _ = slice(a[2], a[3]).indices(size)
    if (start, stop) == (0, size):
        return x
    if dim % 4 == 0:
        raise fe._unsupported(node, "slicing the batch")
    return Value(x.name, 4, chan=(start, stop))


def _cat_of_slices(fe: _Frontend, node: Any, values: list) -> Value | None:
    """A cat of channel slices that puts one tensor back together, counting the
    channels an add_into left alone as its output's, or None for an ordinary cat."""
    if all(not isinstance(v, Value) or v.chan is None for v in values):
        return None
    parts = [(v.name, *(v.chan or (0, fe.shape(v)[3]))) for v in values]
    common = None
    for name, start, stop in parts:
        bases = {name} | {out for out, (x, a, b) in fe.added_into.items()
                          if x == name and (stop <= a or start >= b)}
        common = bases if common is None else common & bases
    ends = [p[1:] for p in parts]
    if (common and len(common) == 1 and ends[0][0] == 0
            and all(e[1] == f[0] for e, f in zip(ends, ends[1:], strict=False))):
        (base,) = common
        if ends[-1][1] == fe.shape(Value(base, 4))[3]:
            return Value(base, 4)
    raise fe._unsupported(node, "torch.cat of channel slices that do not put one tensor "
                                "back together; write the improvement block as "
                                "torch.cat([x[:, :k], x[:, k:] + w], 1) or x + F.pad(w, "
                                "(0, 0, 0, 0, k, 0))")


def h_mul(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    a, b = args[0], args[1]
    if isinstance(a, InputScale) or isinstance(b, InputScale):
        return _input_scaled(fe, node, a, b)
    if isinstance(a, Value) and isinstance(b, Value):
        raise fe._unsupported(node, "product of two activations")
    x, const = (a, b) if isinstance(a, Value) else (b, a)
    c = fe.shape(fe.plain(node, x))[3]
    scale = _channel_vector(node, fe, const, c, "multiply")
    if node.target == aten.div.Tensor:
        scale = 1.0 / scale
    return _affine(fe, node, x, scale, np.zeros(c))


def h_cat(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    dim = args[1] if len(args) > 1 else kw.get("dim", 0)
    if dim % 4 == 1 and (rebuilt := _cat_of_slices(fe, node, list(args[0]))) is not None:
        fe.torch_names[rebuilt.name] = node.name  # the add_into's output, whole again
        return rebuilt
    values = [fe.plain(node, v) for v in args[0]]
    if any(not isinstance(v, Value) for v in values) or dim % values[0].rank != 1:
        raise fe._unsupported(node, f"torch.cat on dim {dim}; only on channels (dim 1)")
    shapes = [fe.shape(v) for v in values]
    if len({s[:3] for s in shapes}) != 1:
        raise fe._unsupported(node, f"torch.cat of spatial shapes {[s[1:3] for s in shapes]}")
    dtypes = {fe.dtype(v) for v in values}
    dtype = "bits" if dtypes == {"bits"} else "float32"
    shape = (*shapes[0][:3], sum(s[3] for s in shapes))
    name = fe.b.add("concat", values, node.name, shape, dtype, fe.source(node))
    return Value(name, values[0].rank)


def h_fake_int8(fe: _Frontend, node: Any, args: list, kw: dict) -> Value:
    """``bnnkit.nn.fake_int8``'s rounding: the export's own int8 grid, so nothing to do
    but keep the range it came from (calibration takes it) and the grid (checked)."""
    x = fe.plain(node, args[0])
    step, zero, lo, hi = args[1:5]
    fe.trained[x.name] = {"range": [float(lo), float(hi)], "zero": int(zero),
                          "step": [float(v) for v in step.reshape(-1)]}
    return x


@dataclass(frozen=True)
class InputScale:
    """XNOR-Net's K of a real-valued input (``torch.ops.bnnkit.input_scale``), pending
    until the binary conv's output it scales: the two become one ``kconv``."""

    x: Value
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]


def h_input_scale(fe: _Frontend, node: Any, args: list, kw: dict) -> InputScale:
    x, kernel, stride, padding, dilation = args
    x = fe.plain(node, x)
    if fe.dtype(x) == "bits":
        raise fe._unsupported(node, "input scaling of binary activations (K is the mean "
                                    "|x| of real values); feed BinaryConv2d(input_scaling="
                                    "True) the values before the Sign")
    return InputScale(x, _pair(kernel, 1), _pair(stride, 1), _pair(padding, 0),
                      _pair(dilation, 1))


def _input_scaled(fe: _Frontend, node: Any, a: Any, b: Any) -> Value:
    """``conv(sign(x)) * K(x)``: the binary conv whose output only this product reads
    becomes a ``kconv`` of its bits and of x, named for the product."""
    y, k = (b, a) if isinstance(a, InputScale) else (a, b)
    conv = fe.b.nodes[-1] if fe.b.nodes else None
    y_fx = [u for u in node.all_input_nodes if isinstance(y, Value) and u.name == y.name]
    if (conv is None or not y_fx or conv.outputs[0] != y.name or conv.op != "conv"
            or fe.dtype(Value(conv.inputs[0], 4)) != "bits" or len(y_fx[0].users) != 1):
        raise fe._unsupported(node, "input scaling (K) multiplies only a BinaryConv2d's "
                                    "output; use BinaryConv2d(..., input_scaling=True)")
    geometry = (tuple(conv.arrays["weight"].shape[1:3]), tuple(conv.attrs["stride"]),
                tuple(conv.attrs["padding"]), tuple(conv.attrs.get("dilation", (1, 1))))
    if geometry != (k.kernel, k.stride, (*k.padding, *k.padding), k.dilation):
        raise fe._unsupported(node, "input scaling with a window other than its binary "
                              "conv's; use BinaryConv2d(..., input_scaling=True)")
    fe.b.nodes.pop()
    shape = fe.b.tensors.pop(conv.outputs[0]).shape
    name = fe.b.add("kconv", [Value(conv.inputs[0], 4), k.x], node.name, shape, "float32",
                    conv.source, dict(conv.attrs), dict(conv.arrays))
    return Value(name, 4)


# -- the registry -------------------------------------------------------------
# What a user may write, and the ATen ops it traces to. The README's list is
# generated from this table (tests/test_readme.py checks they agree), and every
# handled op belongs to an entry or is plumbing.
SUPPORTED_OPS: dict[str, tuple[Any, ...]] = {
    "`Conv2d` (also depthwise and grouped), `BinaryConv2d` (also grouped and dilated)":
        (aten.conv2d.default, aten.conv2d.padding, aten.convolution.default),
    "`Linear`, `BinaryLinear`": (aten.linear.default, aten.addmm.default),
    "`Sign` (`bnnkit.nn`)": (torch.ops.bnnkit.sign.default,),
    "`BatchNorm1d`, `BatchNorm2d` (eval)":
        (aten.batch_norm.default, aten._native_batch_norm_legit_no_training.default),
    "`ReLU`": (aten.relu.default, aten.relu_.default),
    "`ReLU6`": (aten.relu6.default,),
    "`Hardtanh`, `torch.clamp`": (aten.hardtanh.default, aten.hardtanh_.default,
                                  aten.clamp.default),
    "`PReLU`": (aten.prelu.default, aten._prelu_kernel.default),
    "`LeakyReLU`": (aten.leaky_relu.default,),
    "`MaxPool2d` (on bits when a sign follows; also `ceil_mode=True`)":
        (aten.max_pool2d.default, aten.max_pool2d_with_indices.default),
    "`AvgPool2d` (also `ceil_mode=True`)": (aten.avg_pool2d.default,),
    "`AdaptiveAvgPool2d(1)`, `mean` over H and W":
        (aten.adaptive_avg_pool2d.default, aten.mean.dim),
    "`Flatten`, `view`/`reshape` to (N, features) before a `Linear`":
        (aten.flatten.using_ints, aten.view.default, aten.reshape.default,
         aten._unsafe_view.default),
    "`Dropout` (eval: nothing)": (aten.dropout.default,),
    "residual `+` of two activations; `+ - * /` by per-channel or scalar constants":
        (aten.add.Tensor, aten.add_.Tensor, aten.sub.Tensor, aten.mul.Tensor, aten.div.Tensor),
    "`torch.cat` on channels": (aten.cat.default,),
    "add into a channel range (MeliusNet): `x + F.pad(w, (0, 0, 0, 0, k, 0))`, "
    "`torch.cat([x[:, :k], x[:, k:] + w], 1)`": (aten.slice.Tensor,),
    "channel shuffle `x.view(n, g, c // g, h, w).transpose(1, 2).reshape(n, c, h, w)` "
    "before a convolution (folded into its weights)":
        (aten.transpose.int, aten.permute.default),
    "`F.pad` with a constant, right before a conv or a pool": (aten.pad.default,
                                                               aten.constant_pad_nd.default),
    "`BinaryConv2d(input_scaling=True)` (XNOR-Net's K)": (torch.ops.bnnkit.input_scale.default,),
    "`bnnkit.nn.fake_int8` (activations rounded as the export stores them)":
        (torch.ops.bnnkit.fake_int8.default,),
}
PLUMBING = (aten.clone.default, aten.contiguous.default, aten.alias.default,
            aten.detach.default, operator.getitem, aten.sym_size.int)

# Refused ops users reach for, and the nearest thing that exports.
ALTERNATIVES: dict[str, str] = {
    "gelu": "ReLU, PReLU or Hardtanh", "silu": "ReLU or PReLU", "hardswish": "ReLU6 or PReLU",
    "mish": "ReLU or PReLU", "elu": "PReLU or LeakyReLU", "selu": "PReLU or LeakyReLU",
    "celu": "PReLU or LeakyReLU", "softplus": "ReLU",
    "sigmoid": "Hardtanh(0, 1); at the output, drop it (the C returns the logits)",
    "hardsigmoid": "Hardtanh(0, 1)", "tanh": "Hardtanh",
    "softmax": "nothing: drop it from the model and apply it to the C's logits",
    "log_softmax": "nothing: drop it from the model and apply it to the C's logits",
    "upsample_nearest2d": "a stride-1 network at the higher resolution (no upsampling "
                          "or transposed conv in the C)",
    "upsample_bilinear2d": "a stride-1 network at the higher resolution (no upsampling "
                           "or transposed conv in the C)",
    "layer_norm": "BatchNorm2d / BatchNorm1d", "group_norm": "BatchNorm2d",
    "native_layer_norm": "BatchNorm2d / BatchNorm1d", "native_group_norm": "BatchNorm2d",
    "instance_norm": "BatchNorm2d", "adaptive_max_pool2d": "MaxPool2d with a fixed kernel",
    "matmul": "Linear", "bmm": "Linear", "mm": "Linear",
    "conv_transpose2d": "a stride-1 network at the higher resolution",
}


def alternative(target: Any) -> str | None:
    """The nearest supported alternative to a refused op, if one is known."""
    name = _op_name(target).split(".")[0]
    return ALTERNATIVES.get(name.removeprefix("_"))


def supported_text() -> str:
    return "; ".join(k.replace("`", "") for k in SUPPORTED_OPS)


def supported_ops_markdown() -> str:
    """The README's list of supported ops."""
    return "\n".join(f"- {k}" for k in SUPPORTED_OPS)


HANDLERS: dict[Any, Callable[..., Any]] = {
    aten.conv2d.default: h_conv2d,
    aten.conv2d.padding: h_conv2d,
    aten.convolution.default: h_convolution,
    aten.linear.default: h_linear,
    aten.addmm.default: h_addmm,
    aten.batch_norm.default: h_batch_norm,
    aten._native_batch_norm_legit_no_training.default: h_batch_norm,
    aten.relu.default: h_relu,
    aten.relu_.default: h_relu,
    aten.relu6.default: h_relu6,
    aten.hardtanh.default: h_hardtanh,
    aten.hardtanh_.default: h_hardtanh,
    aten.clamp.default: h_clamp,
    aten.prelu.default: h_prelu,
    aten._prelu_kernel.default: h_prelu,
    aten.leaky_relu.default: h_leaky_relu,
    torch.ops.bnnkit.sign.default: h_sign,
    aten.pad.default: h_pad,
    aten.constant_pad_nd.default: h_pad,
    aten.max_pool2d.default: h_max_pool,
    aten.max_pool2d_with_indices.default: h_max_pool,
    aten.avg_pool2d.default: h_avg_pool,
    aten.adaptive_avg_pool2d.default: h_adaptive_avg,
    aten.mean.dim: h_mean,
    aten.flatten.using_ints: h_flatten,
    aten.view.default: h_view,
    aten.reshape.default: h_view,
    aten._unsafe_view.default: h_view,
    aten.clone.default: h_identity,
    aten.contiguous.default: h_identity,
    aten.alias.default: h_identity,
    aten.detach.default: h_identity,
    aten.dropout.default: h_dropout,
    operator.getitem: h_getitem,
    aten.sym_size.int: h_sym_size,
    aten.add.Tensor: h_add,
    aten.add_.Tensor: h_add,
    aten.sub.Tensor: h_add,
    aten.mul.Tensor: h_mul,
    aten.cat.default: h_cat,
    aten.slice.Tensor: h_slice,
    aten.transpose.int: h_transpose,
    aten.permute.default: h_permute,
    aten.div.Tensor: h_mul,
    torch.ops.bnnkit.input_scale.default: h_input_scale,
    torch.ops.bnnkit.fake_int8.default: h_fake_int8,
}
