"""Random exportable PyTorch models from one seed, built from every supported layer.

``make_case(seed)`` walks a small state machine over what the current
activation is (a real-valued feature map, a binary one after a Sign, a
vector, a binary vector) and appends layers that accept it, with random
options: kernels 1/3/5 (non-square too), strides 1/2, every padding mode of
the binary convs (zero, +1, none, asymmetric F.pad), XNOR scale, bias,
depthwise and grouped Conv2d, negative and zero BatchNorm gammas, every
activation, max-pool on bits and on int8 (also followed by a BatchNorm with
negative gammas and no sign: issue 12's defect 10), average pools,
residual adds, concats on bits and on int8, constant affines, normalize=
input tables and vector inputs. Channel counts cross 64, sizes are odd and
non-square, and models stay small so thousands export and compile quickly.

Every option a model used is a tag; ``TAGS`` lists them all, and the
campaign reports how often each appeared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bnnkit.nn import BinaryConv2d, BinaryLinear, Sign

from ..models import randomize_batchnorm

TAGS = (
    "input.image", "input.vector", "input.normalize", "trace.dynamic",
    "conv", "conv.depthwise", "conv.grouped", "conv.bias", "conv.k5", "conv.nonsquare_k",
    "conv.stride2", "conv.same", "conv.fpad",
    "bconv", "bconv.pad_zero", "bconv.pad_one", "bconv.pad_none", "bconv.fpad",
    "bconv.stride2", "bconv.k5", "bconv.nonsquare_k", "bconv.xnor", "bconv.bias",
    "bconv.on_bits", "bconv.cin_over_64",
    "linear", "linear.bias", "blinear", "blinear.xnor", "blinear.bias", "blinear.on_bits",
    "bn2d", "bn1d", "bn.negative", "bn.zero",
    "relu", "relu6", "hardtanh", "prelu", "prelu.channel", "leaky_relu",
    "sign", "maxpool.real", "maxpool.bits", "maxpool.pad", "maxpool_bn_negative",
    "avgpool", "avgpool.exclude_pad", "adaptive_avgpool", "mean_hw",
    "flatten", "add", "add.binary_body", "cat.real", "cat.bits", "cat.three",
    "affine_const", "dropout", "output.feature_map", "output.bits",
)

MAX_MACS = 400_000  # per layer: keeps the golden model and qemu fast


@dataclass
class Case:
    """One generated model and what ``bnnkit.export`` needs for it."""

    seed: int
    model: nn.Module
    calibration: torch.Tensor       # float inputs, like the model takes
    normalize: tuple[list[float], list[float]] | None
    dynamic_trace: bool            # trace with bnnkit's own (dynamic batch) trace
    tags: Counter
    layers: str                    # one line per layer, for repro notes


class Lambda(nn.Module):
    """A named function of the activation, for ops that are not torch modules."""

    def __init__(self, name: str, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.name, self.fn = name, fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


class Affine(nn.Module):
    """``x * scale + shift`` (or ``(x - shift) / scale``) by per-channel constants."""

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor, form: int) -> None:
        super().__init__()
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)
        self.form = form

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.form == 0:
            return x * self.scale + self.shift
        return (x - self.shift) / self.scale


class Residual(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


class Concat(nn.Module):
    def __init__(self, branches: list[nn.Module]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, *(b(x) for b in self.branches)], dim=1)


class PadThen(nn.Module):
    """Asymmetric F.pad in front of a convolution."""

    def __init__(self, pad: tuple[int, int, int, int], value: float, conv: nn.Module) -> None:
        super().__init__()
        self.pad, self.value, self.conv = pad, value, conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.pad, value=self.value))

    def extra_repr(self) -> str:
        return f"pad={self.pad}, value={self.value}"


class _Builder:
    """The state machine: the current activation's kind and shape, and the layers so far."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.tags: Counter = Counter()
        self.layers: list[nn.Module] = []
        self.kind = "real"          # real | bits | vector | vector_bits
        self.c, self.h, self.w = 1, 1, 1
        self.negative_bns: list[nn.Module] = []  # BatchNorms that must get negative gammas
        self.no_sign_next = False

    # -- random choices ------------------------------------------------------------------
    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, options: list) -> object:
        return options[int(self.rng.integers(len(options)))]

    def channels(self, binary: bool) -> int:
        if self.chance(0.4 if binary else 0.15):  # around a 64-bit word of channels
            return int(self.pick([63, 64, 65, 70, 127, 129] if binary else [63, 64, 65, 70]))
        return int(self.rng.integers(1, 40 if binary else 20))

    def limit(self, o: int, per_channel_macs: int) -> int:
        return max(1, min(o, MAX_MACS // max(per_channel_macs, 1)))

    def window(self, kernels: tuple[int, ...], strides: tuple[int, ...], square: bool,
               max_pad: Callable[[int], int]) -> tuple[tuple[int, int], tuple[int, int],
                                                       tuple[int, int]]:
        """Kernel, stride, padding per axis with an output of at least 1x1."""
        while True:
            kh = int(self.pick(list(kernels)))
            kw = kh if square else int(self.pick(list(kernels)))
            sh = int(self.pick(list(strides)))
            sw = sh if self.chance(0.7) else int(self.pick(list(strides)))
            ph, pw = (int(self.rng.integers(0, max_pad(k) + 1)) for k in (kh, kw))
            if self.h + 2 * ph >= kh and self.w + 2 * pw >= kw:
                return (kh, kw), (sh, sw), (ph, pw)

    def out_hw(self, k: tuple[int, int], s: tuple[int, int], p: tuple[int, int]) -> None:
        self.h = (self.h + 2 * p[0] - k[0]) // s[0] + 1
        self.w = (self.w + 2 * p[1] - k[1]) // s[1] + 1

    # -- layers ----------------------------------------------------------------------------
    def add(self, layer: nn.Module, *tags: str) -> None:
        self.layers.append(layer)
        self.tags.update(tags)

    def conv(self) -> None:
        """Conv2d on int8: plain, grouped or depthwise, padding int, 'same' or F.pad."""
        c = self.c
        k, s, p = self.window((1, 3, 5), (1, 2), self.chance(0.7), lambda k: k - 1)
        tags = ["conv"]
        groups = 1
        if c > 1 and self.chance(0.3):
            groups, o = c, c
            tags.append("conv.depthwise")
        elif c > 1 and self.chance(0.25):
            groups = int(self.pick([g for g in range(2, c + 1) if c % g == 0]))
            o = groups * int(self.rng.integers(1, 4))
            tags.append("conv.grouped")
        else:
            o = self.channels(False)
        o = self.limit(o, k[0] * k[1] * (c // groups) * self.h * self.w)
        if groups > 1 and o % groups:
            o = groups
        bias = self.chance(0.5)
        tags += ["conv.bias"] * bias + ["conv.k5"] * (5 in k) + \
            ["conv.nonsquare_k"] * (k[0] != k[1]) + ["conv.stride2"] * (2 in s)
        fpad = self.chance(0.15)
        padding: object = p
        if not fpad and s == (1, 1) and k[0] % 2 and k[1] % 2 and self.chance(0.2):
            padding, p = "same", (k[0] // 2, k[1] // 2)
            tags.append("conv.same")
        layer: nn.Module = nn.Conv2d(c, o, k, s, 0 if fpad else padding, groups=groups,
                                     bias=bias)
        if fpad:
            layer, p = self._asymmetric_pad(k, s, layer, 0.0)
            tags.append("conv.fpad")
        else:
            self.out_hw(k, s, p)
        self.add(layer, *tags)
        self.c = o

    def _asymmetric_pad(self, k: tuple[int, int], s: tuple[int, int], conv: nn.Module,
                        value: float) -> tuple[nn.Module, tuple[int, int]]:
        while True:
            left, right, top, bottom = (int(self.rng.integers(0, kk)) for kk in
                                        (k[1], k[1], k[0], k[0]))
            if self.h + top + bottom >= k[0] and self.w + left + right >= k[1]:
                break
        self.h = (self.h + top + bottom - k[0]) // s[0] + 1
        self.w = (self.w + left + right - k[1]) // s[1] + 1
        return PadThen((left, right, top, bottom), value, conv), (0, 0)

    def bconv(self, on_bits: bool, same: bool = False) -> BinaryConv2d | nn.Module:
        """BinaryConv2d: every pad mode, stride, kernel, XNOR scale, bias; int8 out."""
        c = self.c
        if same:
            k, s, p = (3, 3), (1, 1), (1, 1)
        else:
            k, s, p = self.window((1, 3, 5), (1, 2), self.chance(0.7), lambda k: k - 1)
        fpad = on_bits and not same and self.chance(0.4)
        pad_value = float(self.pick([0.0, 1.0]))
        o = c if same else self.limit(self.channels(True), k[0] * k[1] * c * self.h * self.w
                                      // 16)
        scale = "xnor" if self.chance(0.3) else None
        bias = self.chance(0.3)
        layer: nn.Module = BinaryConv2d(c, o, k, s, (0, 0) if fpad else p, pad_value=pad_value,
                                        bias=bias, scale=scale,
                                        input_sign=None if on_bits else Sign())
        tags = ["bconv"] + ["bconv.xnor"] * (scale == "xnor") + ["bconv.bias"] * bias + \
            ["bconv.on_bits"] * on_bits + ["bconv.k5"] * (5 in k) + \
            ["bconv.nonsquare_k"] * (k[0] != k[1]) + ["bconv.stride2"] * (2 in s) + \
            ["bconv.cin_over_64"] * (c > 64)
        if fpad:
            layer, _ = self._asymmetric_pad(k, s, layer, pad_value)
            tags += ["bconv.fpad", "bconv.pad_one" if pad_value else "bconv.pad_zero"]
        else:
            self.out_hw(k, s, p)
            tags.append("bconv.pad_none" if p == (0, 0) else
                        "bconv.pad_one" if pad_value else "bconv.pad_zero")
        self.tags.update(tags)
        self.c = o
        return layer

    def bn(self) -> nn.Module:
        if self.kind == "vector":
            self.tags["bn1d"] += 1
            return nn.BatchNorm1d(self.c)
        self.tags["bn2d"] += 1
        return nn.BatchNorm2d(self.c)

    def act(self) -> None:
        name = str(self.pick(["relu", "relu6", "hardtanh", "prelu", "leaky_relu"]))
        if name == "relu":
            layer: nn.Module = nn.ReLU()
        elif name == "relu6":
            layer = nn.ReLU6()
        elif name == "hardtanh":
            lo = float(self.rng.uniform(-2.0, 0.5))
            layer = nn.Hardtanh(lo, lo + float(self.rng.uniform(0.2, 3.0)))
        elif name == "prelu":
            n = self.c if self.chance(0.5) else 1
            layer = nn.PReLU(n)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(self.rng.uniform(-0.5, 0.8, n)))
            self.tags["prelu.channel"] += n > 1
        else:
            layer = nn.LeakyReLU(float(self.rng.uniform(0.01, 0.4)))
        self.add(layer, name)

    def maxpool(self) -> None:
        k, s, p = self.window((2, 3), (1, 2), self.chance(0.7), lambda k: k // 2)
        stride = None if self.chance(0.3) else s  # None: PyTorch's default, the kernel
        s = k if stride is None else s
        self.add(nn.MaxPool2d(k, stride, p), "maxpool.bits" if self.kind == "bits"
                 else "maxpool.real", *["maxpool.pad"] * (p != (0, 0)))
        self.out_hw(k, s, p)

    def avgpool(self) -> None:
        k, s, p = self.window((2, 3), (1, 2), self.chance(0.7), lambda k: k // 2)
        include = self.chance(0.5)
        self.add(nn.AvgPool2d(k, s, p, count_include_pad=include), "avgpool",
                 *["avgpool.exclude_pad"] * (not include))
        self.out_hw(k, s, p)

    def affine(self) -> None:
        c = self.c
        shape = (1, c, 1, 1) if self.kind == "real" else (1, c)
        if self.chance(0.3):
            shape = ()
        scale = torch.tensor(self.rng.uniform(0.3, 2.0, shape) *
                             self.rng.choice([-1.0, 1.0], shape), dtype=torch.float32)
        shift = torch.tensor(self.rng.uniform(-1.0, 1.0, shape), dtype=torch.float32)
        self.add(Affine(scale, shift, int(self.rng.integers(2))), "affine_const")

    def residual(self) -> None:
        if self.chance(0.5):
            body: list[nn.Module] = [self.bconv(False, same=True), self.bn()]
            self.tags["add.binary_body"] += 1
        else:
            body = [nn.Conv2d(self.c, self.c, 3, padding=1), self.bn()]
            self.tags["conv"] += 1
        self.add(Residual(nn.Sequential(*body)), "add")

    def concat(self) -> None:
        """cat([x, branch(x), ...]) on channels, all bits or all int8."""
        branches = []
        c_in, total = self.c, self.c
        for _ in range(2 if self.chance(0.3) else 1):
            self.c = c_in
            if self.kind == "bits":
                branches.append(nn.Sequential(self.bconv(True, same=True), self.bn(), Sign()))
            elif self.chance(0.5):
                branches.append(nn.Sequential(self.bconv(False, same=True), self.bn()))
            else:
                self.c = self.channels(False)
                branches.append(nn.Sequential(nn.Conv2d(c_in, self.c, 3, padding=1), self.bn()))
                self.tags["conv"] += 1
            total += self.c
        self.c = total
        self.add(Concat(branches), "cat.bits" if self.kind == "bits" else "cat.real",
                 *["cat.three"] * (len(branches) == 2))

    def pool_then_negative_bn(self) -> None:
        """Issue 12's defect 10: max-pool on int8, BatchNorm with negative gammas, no sign."""
        self.maxpool()
        bn = self.bn()
        self.negative_bns.append(bn)
        self.add(bn, "maxpool_bn_negative")
        self.no_sign_next = True

    def linear(self, binary: bool) -> None:
        f = self.c if self.kind.startswith("vector") else self.c * self.h * self.w
        if self.kind in ("real", "bits"):
            self.add(nn.Flatten(), "flatten")
        on_bits = self.kind in ("bits", "vector_bits")
        o = self.limit(self.channels(binary), f)
        bias = self.chance(0.4)
        if binary:
            scale = "xnor" if self.chance(0.3) else None
            self.add(BinaryLinear(f, o, bias=bias, scale=scale,
                                  input_sign=None if on_bits else Sign()),
                     "blinear", *["blinear.xnor"] * (scale is not None),
                     *["blinear.bias"] * bias, *["blinear.on_bits"] * on_bits)
        else:
            self.add(nn.Linear(f, o, bias=bias), "linear", *["linear.bias"] * bias)
        self.kind, self.c, self.h, self.w = "vector", o, 1, 1

    # -- the walk ----------------------------------------------------------------------------
    def step(self) -> None:
        """One random layer (or block) that accepts the current activation."""
        if self.kind == "bits":
            op = self.pick(["bconv", "bconv", "maxpool", "concat", "concat"])
            if op == "bconv":
                self.add(self.bconv(True))
                self.kind = "real"
            else:
                getattr(self, str(op))()
            return
        if self.kind == "vector_bits":
            self.linear(binary=True)
            return
        if self.kind == "vector":
            ops = ["linear", "blinear", "bn", "act", "affine", "dropout", "sign"]
        else:
            ops = ["conv", "conv", "bconv", "bconv", "bn", "bn", "act", "maxpool", "avgpool",
                   "residual", "concat", "affine", "dropout", "pool_bn", "sign", "sign"]
        if self.no_sign_next:  # keep the pattern: nothing binarizes the BatchNorm's output
            ops = [op for op in ops if op not in ("sign", "bconv", "blinear", "residual",
                                                  "concat")]
        self.no_sign_next = False
        op = str(self.pick(ops))
        if op == "sign":
            self.add(Sign(), "sign")
            self.kind = "bits" if self.kind == "real" else "vector_bits"
        elif op == "bconv":
            self.add(self.bconv(False))
        elif op in ("linear", "blinear"):
            self.linear(binary=op == "blinear")
        elif op == "bn":
            self.add(self.bn())
        elif op == "dropout":
            self.add(nn.Dropout(0.3), "dropout")
        elif op == "pool_bn":
            self.pool_then_negative_bn()
        else:
            getattr(self, op)()

    def head(self) -> None:
        """End on a feature map, bits, or a (binary) linear layer after a pool or flatten."""
        if self.kind == "bits":
            if self.chance(0.3):
                self.tags["output.bits"] += 1
                return
            self.linear(binary=True)
        elif self.kind == "vector_bits":
            self.linear(binary=True)
        elif self.kind == "real":
            choice = int(self.rng.integers(4))
            if choice == 0:
                self.tags["output.feature_map"] += 1
                return
            if choice == 1:
                if self.chance(0.5):
                    self.add(nn.AdaptiveAvgPool2d(1), "adaptive_avgpool")
                else:
                    self.add(Lambda("mean_hw", lambda x: x.mean((2, 3), keepdim=True)),
                             "mean_hw")
                self.h = self.w = 1
            self.linear(binary=self.chance(0.4) and not self.no_sign_next)
        if self.chance(0.4):
            self.add(self.bn())


def make_case(seed: int) -> Case:
    """The model of ``seed``: the same layers, weights and calibration every time."""
    torch.manual_seed(seed)
    b = _Builder(seed)
    rng = b.rng
    normalize = None
    if rng.random() < 0.2:
        b.kind, b.c = "vector", int(rng.integers(1, 40))
        b.tags["input.vector"] += 1
        shape: tuple[int, ...] = (b.c,)
    else:
        b.c, b.h, b.w = int(rng.integers(1, 6)), int(rng.integers(1, 13)), int(rng.integers(1, 13))
        b.tags["input.image"] += 1
        shape = (b.c, b.h, b.w)
        if rng.random() < 0.25:
            mean = [float(m) for m in rng.integers(0, 256, b.c) / 255.0]
            std = [float(s) for s in rng.uniform(0.1, 0.5, b.c)]
            normalize = (mean, std)
            b.tags["input.normalize"] += 1
    for _ in range(int(rng.integers(1, 6))):
        b.step()
    b.head()
    # An identity, or only the input's sign (the C's bits input encoding), computes
    # nothing and is refused: add a layer that takes what the model ends on.
    if all(isinstance(m, nn.Dropout | Sign) for m in b.layers):
        if b.kind in ("bits", "vector_bits"):
            b.linear(binary=True)
        else:
            b.add(b.bn())
    model = randomize_batchnorm(nn.Sequential(*b.layers), seed=seed,
                                negative=bool(rng.random() < 0.8), zero=bool(rng.random() < 0.5))
    with torch.no_grad():
        for bn in b.negative_bns:
            bn.weight[: (bn.num_features + 1) // 2] = -bn.weight[: (bn.num_features + 1) // 2].abs()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            b.tags["bn.negative"] += bool((m.weight < 0).any())
            b.tags["bn.zero"] += bool((m.weight == 0).any())
    dynamic = bool(rng.random() < 0.1)
    b.tags["trace.dynamic"] += dynamic
    return Case(seed, model, _calibration(rng, shape, normalize), normalize, dynamic,
                +b.tags, str(model))


def _calibration(rng: np.random.Generator, shape: tuple[int, ...],
                 normalize: tuple[list[float], list[float]] | None) -> torch.Tensor:
    n = 12
    if normalize is not None:
        mean, std = (np.asarray(v)[:, None, None] for v in normalize)
        pixels = rng.integers(0, 256, (n, *shape))
        x = (pixels / 255.0 - mean) / std
    else:
        x = rng.normal(float(rng.uniform(-0.5, 0.5)), float(rng.uniform(0.5, 2.0)), (n, *shape))
    return torch.from_numpy(x).float()


def covering_seeds(seeds: range) -> list[int]:
    """A few seeds of ``seeds`` that together generate every tag (greedy set cover)."""
    tags_of = {s: set(make_case(s).tags) for s in seeds}
    missing, chosen = set(TAGS), []
    while missing:
        best = max(tags_of, key=lambda s: len(tags_of[s] & missing))
        if not tags_of[best] & missing:
            raise ValueError(f"seeds {seeds} never generate {sorted(missing)}")
        chosen.append(best)
        missing -= tags_of[best]
    return chosen
