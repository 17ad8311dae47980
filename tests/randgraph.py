"""Random valid INT-level IR graphs for testing generated C against the golden model.

``random_graph(seed)`` builds a chain or small DAG from a seeded numpy
generator; ``graphs()`` is the hypothesis strategy (seeds drawn by
hypothesis). Every int op appears with random parameters in valid ranges:
non-multiple-of-64 channels, kernels 1/3/5 and "linear" whole-input kernels,
strides 1/2, asymmetric padding, every bconv pad mode, bits or int8 outputs,
depthwise conv, residual adds, concats at odd channel offsets. Windows never
lie wholly in padding (padding < kernel), as in PyTorch.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from bnnkit.codegen.build import COMPILERS, EMULATORS
from bnnkit.golden.quant import quantize_multiplier
from bnnkit.golden.windows import out_size
from bnnkit.ir.bits import pack
from bnnkit.ir.graph import Graph, Node, Quant, Tensor
from bnnkit.registry import LOWERED_OPS

from .tooling import need

INT_OPS = LOWERED_OPS  # every op the generated C runs: each needs a Builder method
BITS_OPS = ("bconv", "bmaxpool", "concat_bits", "bconv_w2")
INT8_OPS = ("conv_i8", "threshold", "maxpool_i8", "avgpool_i8", "add_i8", "channelwise_i8",
            "concat_i8", "conv_i8_w1", "add_into_i8", "conv_i8_w2", "bconv_k")
MAX_MACS = 600_000


class Builder:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []

    # -- basics --

    def quant(self) -> Quant:
        return Quant(float(self.rng.uniform(0.01, 0.2)), int(self.rng.integers(-30, 31)))

    def tensor(self, shape: tuple[int, int, int], dtype: str, quant: Quant | None = None
               ) -> str:
        name = f"t{len(self.tensors)}"
        if dtype == "uint8" and quant is None:
            quant = Quant(1.0, 0)  # raw pixels, as the exporter writes them
        if dtype == "int8" and quant is None:
            quant = self.quant()
        self.tensors[name] = Tensor(name, (1, *shape), dtype, quant)
        return name

    def shape(self, name: str) -> tuple[int, int, int]:
        return self.tensors[name].shape[1:]  # type: ignore[return-value]

    def add(self, op: str, inputs: list[str], out: str, attrs: dict | None = None,
            arrays: dict | None = None) -> str:
        index = len(self.nodes)
        self.nodes.append(Node(f"n{index}_{op}", op, tuple(inputs), (out,), attrs or {},
                               arrays or {}, source=f"layers.{index}"))
        return out

    def window_or_linear(self, h: int, w: int) -> tuple[list[int], list[int], list[int]]:
        """A random window, or now and then a "linear" one covering the whole input."""
        if self.rng.random() < 0.15:
            return [h, w], [1, 1], [0, 0, 0, 0]
        return self.window(h, w)

    def window(self, h: int, w: int, kernels: tuple[int, ...] = (1, 3, 5),
               strides: tuple[int, ...] = (1, 2)) -> tuple[list[int], list[int], list[int]]:
        """Kernel, stride, (top, left, bottom, right) with padding < kernel and out >= 1."""
        rng = self.rng
        while True:
            k = [int(rng.choice(kernels)), int(rng.choice(kernels))]
            s = [int(rng.choice(strides)), int(rng.choice(strides))]
            pad = [int(rng.integers(0, k[0])), int(rng.integers(0, k[1])),
                   int(rng.integers(0, k[0])), int(rng.integers(0, k[1]))]
            if rng.random() < 0.3:
                pad = [0, 0, 0, 0]
            if h + pad[0] + pad[2] >= k[0] and w + pad[1] + pad[3] >= k[1]:
                return k, s, pad

    def out_hw(self, h: int, w: int, k: list[int], s: list[int], pad: list[int]
               ) -> tuple[int, int]:
        return (out_size(h, k[0], s[0], pad[0], pad[2]), out_size(w, k[1], s[1], pad[1], pad[3]))

    def multipliers(self, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pairs = [quantize_multiplier(float(r)) for r in real]
        return (np.array([p[0] for p in pairs], np.int32),
                np.array([p[1] for p in pairs], np.int32))

    def clamp(self, zero: int) -> list[int]:
        choice = self.rng.integers(0, 3)
        if choice == 0:
            return [-128, 127]
        if choice == 1:
            return [zero, 127]                      # ReLU
        return [max(-128, zero - 50), min(127, zero + 60)]  # hardtanh-like

    def out_channels(self, per_channel_macs: int, cap: int) -> int:
        limit = max(1, min(cap, MAX_MACS // max(per_channel_macs, 1)))
        return int(self.rng.integers(1, limit + 1))

    # -- ops --

    def lut(self, x: str) -> str:
        h, w, c = self.shape(x)
        table = self.rng.integers(-128, 128, (c, 256)).astype(np.int8)
        if self.rng.random() < 0.5:  # monotone, like a folded normalization
            table = np.sort(table, axis=1)
        return self.add("lut", [x], self.tensor((h, w, c), "int8"), {}, {"table": table})

    def conv_i8(self, x: str, to_bits: bool | None = None, depthwise: bool | None = None,
                same: bool = False) -> str:
        rng = self.rng
        h, w, c = self.shape(x)
        if depthwise is None:
            depthwise = bool(rng.random() < 0.3)
        if same:
            k, s, pad = [3, 3], [1, 1], [1, 1, 1, 1]
        else:
            k, s, pad = self.window(h, w)
        oh, ow = self.out_hw(h, w, k, s, pad)
        ig = 1 if depthwise else c
        o = c if (depthwise or same) else self.out_channels(oh * ow * k[0] * k[1] * ig, 24)
        groups = c if depthwise else 1
        weight = rng.integers(-127, 128, (o, k[0], k[1], ig)).astype(np.int8)
        acc_std = math.sqrt(k[0] * k[1] * ig) * 70 * 60
        bias = rng.integers(-int(acc_std), int(acc_std) + 1, o).astype(np.int32)
        to_bits = bool(rng.random() < 0.4) if to_bits is None else to_bits
        attrs = {"stride": s, "padding": pad, "groups": groups}
        arrays = {"weight": weight, "bias": bias}
        out = self.conv_output((oh, ow, o), acc_std, to_bits, attrs, arrays)
        return self.add("conv_i8", [x], out, attrs, arrays)

    def conv_output(self, shape: tuple[int, int, int], acc_std: float, to_bits: bool,
                    attrs: dict, arrays: dict) -> str:
        """An int8-input conv's output tensor, its threshold or requantization added to
        ``arrays`` and ``attrs`` (accumulators of about ``acc_std``)."""
        rng, o = self.rng, shape[2]
        if to_bits:
            arrays["threshold"] = rng.integers(-int(acc_std), int(acc_std) + 1, o).astype(np.int32)
            return self.tensor(shape, "bits")
        out = self.tensor(shape, "int8")
        arrays["multiplier"], arrays["shift"] = self.multipliers(
            50 / acc_std * rng.uniform(0.5, 2.0, o))
        attrs["clamp"] = self.clamp(self.tensors[out].quant.zero_point)
        return out

    def conv_i8_w1(self, x: str) -> str:
        """INT8 x 1-bit conv: random +-1 weights, bits or int8 out, linear kernels too."""
        rng = self.rng
        h, w, c = self.shape(x)
        k, s, pad = self.window_or_linear(h, w)
        oh, ow = self.out_hw(h, w, k, s, pad)
        o = self.out_channels(oh * ow * k[0] * k[1] * c, 40)
        weight = pack(rng.integers(0, 2, (o, k[0], k[1], c)).astype(np.uint8))
        acc_std = math.sqrt(k[0] * k[1] * c) * 70
        bias = rng.integers(-int(acc_std), int(acc_std) + 1, o).astype(np.int32)
        attrs: dict = {"stride": s, "padding": pad}
        arrays = {"weight": weight, "bias": bias}
        out = self.conv_output((oh, ow, o), acc_std, bool(rng.random() < 0.4), attrs, arrays)
        return self.add("conv_i8_w1", [x], out, attrs, arrays)

    def ternary(self, x: str, op: str) -> str:
        """conv_i8_w2 or bconv_w2: random ternary planes (a weight is +scale_pos, -scale_neg
        or 0; rarely both bits, which adds both), signed per-channel scales as a negative
        BatchNorm scale leaves them, bits or int8 out, every padding, linear kernels too."""
        rng = self.rng
        h, w, c = self.shape(x)
        k, s, pad = self.window_or_linear(h, w)
        oh, ow = self.out_hw(h, w, k, s, pad)
        per_tap = 255 if op == "conv_i8_w2" else 1
        o = self.out_channels(oh * ow * k[0] * k[1] * c // (1 if per_tap > 1 else 8), 40)
        code = rng.integers(0, 7, (o, k[0], k[1], c))
        top = 1 << int(rng.integers(0, 11))
        sign = np.where(rng.random(o) < 0.2, -1, 1)
        scale_pos = sign * rng.integers(1, top + 1, o)
        scale_neg = sign * rng.integers(1, top + 1, o)
        acc_std = math.sqrt(k[0] * k[1] * c) * (70 if per_tap > 1 else 1) * top
        bias = rng.integers(-int(acc_std), int(acc_std) + 1, o).astype(np.int32)
        attrs: dict = {"stride": s, "padding": pad}
        if op == "bconv_w2":
            attrs["pad_mode"] = str(rng.choice(["zero", "one"]))
        arrays = {"weight": pack(((code == 1) | (code == 3)).astype(np.uint8)),
                  "weight_neg": pack(((code == 2) | (code == 3)).astype(np.uint8)),
                  "scale_pos": scale_pos.astype(np.int32),
                  "scale_neg": scale_neg.astype(np.int32), "bias": bias}
        out = self.conv_output((oh, ow, o), acc_std, bool(rng.random() < 0.4), attrs, arrays)
        return self.add(op, [x], out, attrs, arrays)

    def conv_i8_w2(self, x: str) -> str:
        return self.ternary(x, "conv_i8_w2")

    def bconv_w2(self, x: str) -> str:
        return self.ternary(x, "bconv_w2")

    def bconv(self, x: str, to_int8: bool | None = None, same: bool = False) -> str:
        rng = self.rng
        h, w, c = self.shape(x)
        # An unpadded conv is "zero" as the exporter writes it (pad_value 0.0).
        padding_kind = str(rng.choice(["zero", "one", "unpadded"]))
        pad_mode = "one" if padding_kind == "one" else "zero"
        if same:
            k, s, pad, pad_mode = [3, 3], [1, 1], [1, 1, 1, 1], str(rng.choice(["zero", "one"]))
        elif rng.random() < 0.15:   # "linear": the kernel covers the whole input
            k, s, pad, pad_mode = [h, w], [1, 1], [0, 0, 0, 0], "zero"
        else:
            k, s, pad = self.window(h, w)
            if padding_kind == "unpadded":
                pad = [0, 0, 0, 0]
                k = [min(k[0], h), min(k[1], w)]
        groups, dilation = 1, [1, 1]
        if not same and rng.random() < 0.3:  # grouped and/or dilated
            groups = int(rng.choice([g for g in (1, 2, 3, 4) if c % g == 0]))
            for axis, size in ((0, h), (1, w)):
                d = int(rng.integers(1, 4))
                if d * (k[axis] - 1) + 1 <= size + pad[axis] + pad[axis + 2]:
                    dilation[axis] = d
        span = [d * (kk - 1) + 1 for kk, d in zip(k, dilation, strict=True)]
        oh, ow = self.out_hw(h, w, span, s, pad)
        o = groups * self.out_channels(oh * ow * k[0] * k[1] * c // 16, 300 // groups)
        bits = rng.integers(0, 2, (o, k[0], k[1], c // groups)).astype(np.uint8)
        arrays = {"weight": pack(bits)}
        attrs = {"stride": s, "padding": pad, "pad_mode": pad_mode}
        if groups != 1:
            attrs["groups"] = groups
        if dilation != [1, 1]:
            attrs["dilation"] = dilation
        K = k[0] * k[1] * c // groups
        to_int8 = bool(rng.random() < 0.4) if to_int8 is None else to_int8
        if to_int8:
            out = self.tensor((oh, ow, o), "int8")
            zero = self.tensors[out].quant.zero_point
            acc_shift = int(rng.integers(0, 4))
            spread = int(math.sqrt(K)) << acc_shift
            arrays["bias"] = rng.integers(-spread, spread + 1, o).astype(np.int32)
            arrays["multiplier"], arrays["shift"] = self.multipliers(
                60 / (math.sqrt(K) * (1 << acc_shift)) * rng.uniform(0.3, 3.0, o))
            attrs.update(clamp=self.clamp(zero), acc_shift=acc_shift)
        else:
            out = self.tensor((oh, ow, o), "bits")
            spread = int(1.5 * math.sqrt(K)) + 1
            arrays["threshold"] = rng.integers(-spread, spread + 1, o).astype(np.int32)
        return self.add("bconv", [x], out, attrs, arrays)

    def bconv_k(self, x: str) -> str:
        """XNOR-Net's input scaling: a threshold of x (its signs, near the zero point)
        and a binary conv of those bits scaled by x's window sums; grouped or dilated,
        either padding mode, a random product shift (saturating sometimes), int8 or
        bits out."""
        rng = self.rng
        h, w, c = self.shape(x)
        zero = self.tensors[x].quant.zero_point
        signs = self.add("threshold", [x], self.tensor((h, w, c), "bits"), {},
                         {"threshold": rng.integers(zero - 20, zero + 21, c).astype(np.int32),
                          "flip": np.zeros(c, np.uint8)})
        k, s, pad = self.window(h, w)
        groups, dilation = int(rng.choice([g for g in (1, 1, 2, 3) if c % g == 0])), [1, 1]
        for axis, size in ((0, h), (1, w)):
            d = int(rng.choice([1, 1, 2]))
            if d * (k[axis] - 1) + 1 <= size + pad[axis] + pad[axis + 2]:
                dilation[axis] = d
        span = [d * (kk - 1) + 1 for kk, d in zip(k, dilation, strict=True)]
        oh, ow = self.out_hw(h, w, span, s, pad)
        o = groups * self.out_channels(oh * ow * k[0] * k[1] * c // 16, 120 // groups)
        bits = rng.integers(0, 2, (o, k[0], k[1], c // groups)).astype(np.uint8)
        taps = k[0] * k[1]
        k_shift = int(rng.integers(-4, 9))
        product = math.sqrt(taps * c // groups) * taps * c * 70 * 2.0**-k_shift
        spread = int(min(product, 2**30))
        attrs = {"stride": s, "padding": pad, "pad_mode": str(rng.choice(["zero", "one"])),
                 "k_shift": k_shift}
        arrays = {"weight": pack(bits)}
        if rng.random() < 0.4:
            out = self.tensor((oh, ow, o), "bits")
            arrays["threshold"] = rng.integers(-spread, spread + 1, o).astype(np.int32)
        else:
            out = self.tensor((oh, ow, o), "int8")
            attrs["clamp"] = self.clamp(self.tensors[out].quant.zero_point)
            arrays["bias"] = rng.integers(-spread, spread + 1, o).astype(np.int32)
            arrays["multiplier"], arrays["shift"] = self.multipliers(
                60 / max(product, 1.0) * rng.uniform(0.3, 3.0, o))
        if groups != 1:
            attrs["groups"] = groups
        if dilation != [1, 1]:
            attrs["dilation"] = dilation
        return self.add("bconv_k", [signs, x], out, attrs, arrays)

    def threshold(self, x: str) -> str:
        h, w, c = self.shape(x)
        arrays = {"threshold": self.rng.integers(-100, 101, c).astype(np.int32),
                  "flip": self.rng.integers(0, 2, c).astype(np.uint8)}
        return self.add("threshold", [x], self.tensor((h, w, c), "bits"), {}, arrays)

    def bmaxpool(self, x: str, same: bool = False) -> str:
        h, w, c = self.shape(x)
        k, s, pad = ([3, 3], [1, 1], [1, 1, 1, 1]) if same else self.window(h, w, (2, 3))
        oh, ow = self.out_hw(h, w, k, s, pad)
        mask = self.rng.integers(0, 2, c).astype(np.uint8)
        return self.add("bmaxpool", [x], self.tensor((oh, ow, c), "bits"),
                        {"kernel": k, "stride": s, "padding": pad}, {"or_mask": mask})

    def pool_i8(self, x: str, op: str, same: bool = False) -> str:
        h, w, c = self.shape(x)
        k, s, pad = ([3, 3], [1, 1], [1, 1, 1, 1]) if same else self.window(h, w, (2, 3))
        oh, ow = self.out_hw(h, w, k, s, pad)
        attrs = {"kernel": k, "stride": s, "padding": pad}
        if op == "avgpool_i8":
            attrs["count_include_pad"] = bool(self.rng.random() < 0.5)
        out = self.tensor((oh, ow, c), "int8", self.tensors[x].quant)
        return self.add(op, [x], out, attrs)

    def channelwise_i8(self, x: str) -> str:
        rng = self.rng
        h, w, c = self.shape(x)
        out = self.tensor((h, w, c), "int8")
        zero = self.tensors[out].quant.zero_point
        acc_shift = int(rng.integers(0, 3))
        arrays = {"bias": rng.integers(-(100 << acc_shift), (100 << acc_shift) + 1, c)
                  .astype(np.int32)}
        arrays["multiplier_pos"], arrays["shift_pos"] = self.multipliers(
            rng.uniform(0.2, 3.0, c) / (1 << acc_shift))
        arrays["multiplier_neg"], arrays["shift_neg"] = self.multipliers(
            rng.uniform(0.01, 1.0, c) / (1 << acc_shift))
        if rng.random() < 0.3:  # a negative PReLU slope: negative Q31 multipliers
            arrays["multiplier_neg"] = -arrays["multiplier_neg"]
        return self.add("channelwise_i8", [x], out,
                        {"acc_shift": acc_shift, "clamp": self.clamp(zero)}, arrays)

    def partner(self, x: str, dtype: str, same_channels: bool) -> str:
        """An earlier tensor usable with x (same H, W; and C if asked), or a new branch."""
        shape = self.shape(x)
        found = [n for n, t in self.tensors.items() if n != x and t.dtype == dtype
                 and self.shape(n)[:2] == shape[:2]
                 and (not same_channels or self.shape(n) == shape)
                 and any(n in node.outputs for node in self.nodes)]
        if found and self.rng.random() < 0.6:
            return str(self.rng.choice(found))
        if dtype == "bits":
            return self.bmaxpool(x, same=True) if self.rng.random() < 0.3 else self.bconv(
                x, to_int8=False, same=True)
        choice = self.rng.integers(0, 3)
        if choice == 0:
            return self.channelwise_i8(x)
        if choice == 1 and not same_channels:
            return self.pool_i8(x, "maxpool_i8", same=True)
        return self.conv_i8(x, to_bits=False, depthwise=False, same=True)

    def add_i8(self, x: str) -> str:
        y = self.partner(x, "int8", same_channels=True)
        a, b = (x, y) if self.rng.random() < 0.5 else (y, x)
        sa, sb = self.tensors[a].quant.scale, self.tensors[b].quant.scale
        out = self.tensor(self.shape(x), "int8")
        so = self.tensors[out].quant.scale
        twice_max = 2 * max(sa, sb)
        attrs = {"scale_a": list(quantize_multiplier(sa / twice_max)),
                 "scale_b": list(quantize_multiplier(sb / twice_max)),
                 "scale_out": list(quantize_multiplier(twice_max / ((1 << 20) * so))),
                 "clamp": self.clamp(self.tensors[out].quant.zero_point)}
        return self.add("add_i8", [a, b], out, attrs)

    def add_into_i8(self, x: str) -> str:
        """A narrower tensor added into a channel range of the wider one; the output
        keeps the wider one's quantization half of the time (in place in the C, when
        nothing reads that input later)."""
        rng = self.rng
        w = self.partner(x, "int8", same_channels=False)
        if self.shape(w)[2] > self.shape(x)[2]:
            x, w = w, x
        c, cw = self.shape(x)[2], self.shape(w)[2]
        offset = int(rng.integers(0, c - cw + 1))
        return self.add_into(x, w, offset, same_quant=rng.random() < 0.5)

    def add_into(self, x: str, w: str, offset: int, same_quant: bool) -> str:
        tx, tw = self.tensors[x], self.tensors[w]
        out = self.tensor(self.shape(x), "int8", tx.quant if same_quant else None)
        so = self.tensors[out].quant.scale
        twice_max = 2 * max(tx.quant.scale, tw.quant.scale)
        attrs = {"offset": offset,
                 "scale_a": list(quantize_multiplier(tx.quant.scale / twice_max)),
                 "scale_b": list(quantize_multiplier(tw.quant.scale / twice_max)),
                 "scale_out": list(quantize_multiplier(twice_max / ((1 << 20) * so))),
                 "clamp": self.clamp(self.tensors[out].quant.zero_point),
                 "rescale": list(quantize_multiplier(tx.quant.scale / so))}
        return self.add("add_into_i8", [x, w], out, attrs)

    def concat(self, x: str, dtype: str) -> str:
        parts = [x, self.partner(x, dtype, same_channels=False)]
        if self.rng.random() < 0.3:
            parts.append(self.partner(x, dtype, same_channels=False))
        self.rng.shuffle(parts)
        h, w, _ = self.shape(x)
        c = sum(self.shape(p)[2] for p in parts)
        if dtype == "bits":
            return self.add("concat_bits", parts, self.tensor((h, w, c), "bits"))
        out = self.tensor((h, w, c), "int8")
        so = self.tensors[out].quant.scale
        rescale = [list(quantize_multiplier(self.tensors[p].quant.scale / so)) for p in parts]
        return self.add("concat_i8", parts, out, {"rescale": rescale})

    def concat_chain(self, x: str) -> str:
        """A DenseNet block: x_{k+1} = concat(x_k, f(x_k)) (now and then f first), each
        concat with its own quantization, x_k read by a threshold (f's input), and at
        the end a lut, a threshold or an INT8 conv. Sometimes f is an INT8 conv reading
        x_k itself, which keeps x_k out of the shared buffer; in half the blocks each
        concat is followed by MeliusNet's add into f's channels (of a binary conv of
        the concat), mostly in place."""
        melius = self.rng.random() < 0.5
        for _ in range(int(self.rng.integers(2, 5))):
            if self.rng.random() < 0.2:
                f = self.conv_i8(x, to_bits=False, depthwise=False, same=True)
            else:
                f = self.bconv(self.threshold(x), to_int8=True, same=True)
            parts = [x, f] if self.rng.random() < 0.75 else [f, x]
            h, w, _ = self.shape(x)
            out = self.tensor((h, w, sum(self.shape(p)[2] for p in parts)), "int8")
            so = self.tensors[out].quant.scale
            rescale = [list(quantize_multiplier(self.tensors[p].quant.scale / so))
                       for p in parts]
            x = self.add("concat_i8", parts, out, {"rescale": rescale})
            if melius:
                g = self.bconv(self.threshold(x), to_int8=True, same=True)
                while self.shape(g)[2] > self.shape(f)[2]:  # as wide as f, at most
                    g = self.bconv(self.threshold(x), to_int8=True, same=True)
                offset = 0 if parts[0] == f else self.shape(x)[2] - self.shape(f)[2]
                x = self.add_into(x, g, offset + int(self.rng.integers(
                    0, self.shape(f)[2] - self.shape(g)[2] + 1)), self.rng.random() < 0.8)
        end = self.rng.integers(0, 3)
        if end == 0:
            return self.lut(x)
        return self.threshold(x) if end == 1 else self.conv_i8(x, to_bits=False)

    def apply(self, op: str, x: str) -> str:
        """Apply op to x, converting x's dtype first if the op needs the other one."""
        dtype = self.tensors[x].dtype
        if op in BITS_OPS and dtype != "bits":
            x = self.threshold(x) if self.rng.random() < 0.5 else self.conv_i8(x, to_bits=True)
        elif (op in INT8_OPS or op == "concat_chain") and dtype != "int8":
            x = self.bconv(x, to_int8=True)
        if op == "conv_i8":
            return self.conv_i8(x)
        if op == "bconv":
            return self.bconv(x)
        if op in ("maxpool_i8", "avgpool_i8"):
            return self.pool_i8(x, op)
        if op == "concat_i8":
            return self.concat(x, "int8")
        if op == "concat_bits":
            return self.concat(x, "bits")
        return getattr(self, op)(x)


def random_graph(seed: int, require: str | None = None, max_steps: int = 4) -> Graph:
    """A random valid integer graph; ``require`` forces one op to appear."""
    rng = np.random.default_rng(seed)
    b = Builder(rng)
    h, w = int(rng.integers(1, 11)), int(rng.integers(1, 11))
    start = str(rng.choice(["uint8", "int8", "bits"]))
    if require == "lut":
        start = "uint8"
    if start == "uint8":
        x0 = b.tensor((h, w, int(rng.integers(1, 5))), "uint8")
        x = b.lut(x0)
    elif start == "int8":
        x0 = x = b.tensor((h, w, int(rng.integers(1, 17))), "int8")
    else:
        x0 = x = b.tensor((h, w, int(rng.integers(1, 200))), "bits")
    steps = int(rng.integers(1, max_steps + 1))
    forced_at = int(rng.integers(0, steps)) if require not in (None, "lut") else -1
    for step in range(steps):
        if step == forced_at:
            op = require
        else:
            dtype = b.tensors[x].dtype
            op = str(rng.choice(BITS_OPS if dtype == "bits" else INT8_OPS))
        assert op is not None
        x = b.apply(op, x)
    _, oh, ow, oc = b.tensors[x].shape
    _, ih, iw, ic = b.tensors[x0].shape
    return Graph(dict(b.tensors), tuple(b.nodes), (x0,), (x,),
                 {"input": {"torch_shape": [1, ic, ih, iw]},
                  "outputs": [{"torch_shape": [1, oc, oh, ow]}]})


def graphs(require: str | None = None) -> st.SearchStrategy[Graph]:
    """Hypothesis strategy: random graphs from hypothesis-drawn seeds."""
    return st.integers(0, 2**32 - 1).map(lambda s: random_graph(s, require))


def tiny_graph() -> Graph:
    """A small fixed model (no RNG: the golden-file test must not depend on numpy's
    generator): uint8 image -> lut -> conv_i8 to bits -> bconv -> bmaxpool ->
    linear bconv to int8 logits."""
    t = {
        "image": Tensor("image", (1, 5, 6, 3), "uint8", Quant(1 / 255, 0)),
        "x": Tensor("x", (1, 5, 6, 3), "int8", Quant(0.03, -2)),
        "b1": Tensor("b1", (1, 5, 6, 8), "bits"),
        "b2": Tensor("b2", (1, 5, 6, 70), "bits"),
        "b3": Tensor("b3", (1, 2, 3, 70), "bits"),
        "logits": Tensor("logits", (1, 1, 1, 10), "int8", Quant(0.1, 3)),
    }
    table = ((np.arange(3 * 256).reshape(3, 256) // 2) % 256 - 128).astype(np.int8)
    w1 = ((np.arange(8 * 9 * 3).reshape(8, 3, 3, 3) * 37) % 255 - 127).astype(np.int8)
    bits2 = ((np.arange(70 * 9 * 8).reshape(70, 3, 3, 8) * 7) % 5 < 2).astype(np.uint8)
    bits4 = ((np.arange(10 * 6 * 70).reshape(10, 2, 3, 70) * 11) % 7 < 3).astype(np.uint8)
    mult, shift = quantize_multiplier(0.37)
    nodes = (
        Node("input_norm", "lut", ("image",), ("x",), {}, {"table": table}, "normalize"),
        Node("conv1", "conv_i8", ("x",), ("b1",),
             {"stride": [1, 1], "padding": [1, 1, 1, 1], "groups": 1},
             {"weight": w1, "bias": np.arange(-4, 4, dtype=np.int32) * 100,
              "threshold": np.arange(8, dtype=np.int32) * 50 - 200}, "features.0"),
        Node("conv2", "bconv", ("b1",), ("b2",),
             {"stride": [1, 1], "padding": [1, 1, 1, 1], "pad_mode": "one"},
             {"weight": pack(bits2), "threshold": (np.arange(70, dtype=np.int32) % 9) - 4},
             "features.3"),
        Node("pool2", "bmaxpool", ("b2",), ("b3",),
             {"kernel": [2, 2], "stride": [2, 2], "padding": [0, 0, 0, 0]},
             {"or_mask": (np.arange(70) % 3 == 0).astype(np.uint8)}, "features.5"),
        Node("fc", "bconv", ("b3",), ("logits",),
             {"stride": [1, 1], "padding": [0, 0, 0, 0], "pad_mode": "zero",
              "clamp": [-128, 127], "acc_shift": 2},
             {"weight": pack(bits4), "bias": np.arange(10, dtype=np.int32) * 3 - 15,
              "multiplier": np.full(10, mult, np.int32), "shift": np.full(10, shift, np.int32)},
             "classifier"),
    )
    return Graph(t, nodes, ("image",), ("logits",),
                 {"input": {"torch_shape": [1, 3, 5, 6]}, "outputs": [{"torch_shape": [1, 10]}]})


def _ints(n: int, lo: int, hi: int, step: int = 7) -> np.ndarray:
    """n fixed integers spread over [lo, hi] (the golden files must not depend on
    numpy's generator)."""
    return lo + (np.arange(n, dtype=np.int64) * step) % (hi - lo + 1)


def op_graph(op: str) -> Graph:
    """A fixed graph of one ``op`` node on an odd-sized input (7x5, 70 channels for bits):
    the golden file of that op's generated C. Convs and pools pad asymmetrically with
    stride 2; bconv pads with zeros (the pad_fix arrays), conv_i8 outputs int8."""
    h, w = 7, 5
    q_in, q_out = Quant(0.05, -3), Quant(0.08, 5)
    window = {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 0, 1, 1]}
    oh, ow = (h + 2 - 3) // 2 + 1, (w + 1 - 3) // 2 + 1
    mult, shift = quantize_multiplier(0.37)
    bits_in = op in ("bconv", "bmaxpool", "concat_bits", "bconv_w2")
    c = 70 if bits_in else 6
    x = Tensor("x", (1, h, w, c), "uint8" if op == "lut" else "bits" if bits_in else "int8",
               Quant(1.0, 0) if op == "lut" else None if bits_in else q_in)
    inputs: tuple[str, ...] = ("x",)
    attrs: dict = {}
    arrays: dict = {}
    if op == "lut":
        out = Tensor("y", (1, h, w, c), "int8", q_out)
        arrays = {"table": _ints(c * 256, -128, 127, 37).reshape(c, 256).astype(np.int8)}
    elif op == "conv_i8":
        out = Tensor("y", (1, oh, ow, 9), "int8", q_out)
        attrs = {"stride": [2, 2], "padding": [1, 0, 1, 1], "groups": 1, "clamp": [-100, 120]}
        arrays = {"weight": _ints(9 * 9 * c, -127, 127, 37).reshape(9, 3, 3, c).astype(np.int8),
                  "bias": _ints(9, -500, 500, 111).astype(np.int32),
                  "multiplier": np.full(9, mult, np.int32),
                  "shift": _ints(9, -12, -8, 1).astype(np.int32)}
    elif op == "conv_i8_w1":
        out = Tensor("y", (1, oh, ow, 9), "int8", q_out)
        bits = (_ints(9 * 9 * c, 0, 6, 5) < 3).astype(np.uint8).reshape(9, 3, 3, c)
        attrs = {"stride": [2, 2], "padding": [1, 0, 1, 1], "clamp": [-100, 120]}
        arrays = {"weight": pack(bits), "bias": _ints(9, -50, 50, 11).astype(np.int32),
                  "multiplier": np.full(9, mult, np.int32),
                  "shift": _ints(9, -6, -2, 1).astype(np.int32)}
    elif op in ("conv_i8_w2", "bconv_w2"):  # int8 out from int8, bits out from bits
        o = 9 if op == "conv_i8_w2" else 67
        code = _ints(o * 9 * c, 0, 4, 3).reshape(o, 3, 3, c)
        attrs = {"stride": [2, 2], "padding": [1, 0, 1, 1]}
        arrays = {"weight": pack((code == 1).astype(np.uint8)),
                  "weight_neg": pack((code == 2).astype(np.uint8)),
                  "scale_pos": _ints(o, 60, 128, 11).astype(np.int32),
                  "scale_neg": _ints(o, -128, 128, 37).astype(np.int32),
                  "bias": _ints(o, -500, 500, 111).astype(np.int32)}
        if op == "conv_i8_w2":
            out = Tensor("y", (1, oh, ow, o), "int8", q_out)
            attrs["clamp"] = [-100, 120]
            arrays.update(multiplier=np.full(o, mult, np.int32),
                          shift=_ints(o, -12, -8, 1).astype(np.int32))
        else:
            out = Tensor("y", (1, oh, ow, o), "bits")
            attrs["pad_mode"] = "zero"
            arrays["threshold"] = _ints(o, -400, 400, 13).astype(np.int32)
    elif op == "bconv":
        out = Tensor("y", (1, oh, ow, 67), "bits")
        bits = (_ints(67 * 9 * c, 0, 6, 5) < 3).astype(np.uint8).reshape(67, 3, 3, c)
        attrs = {"stride": [2, 2], "padding": [1, 0, 1, 1], "pad_mode": "zero"}
        arrays = {"weight": pack(bits), "threshold": _ints(67, -40, 40, 13).astype(np.int32)}
    elif op == "threshold":
        out = Tensor("y", (1, h, w, c), "bits")
        arrays = {"threshold": _ints(c, -100, 100, 41).astype(np.int32),
                  "flip": _ints(c, 0, 1, 1).astype(np.uint8)}
    elif op == "bmaxpool":
        out = Tensor("y", (1, oh, ow, c), "bits")
        attrs = dict(window)
        arrays = {"or_mask": (_ints(c, 0, 2, 1) == 0).astype(np.uint8)}
    elif op in ("maxpool_i8", "avgpool_i8"):
        out = Tensor("y", (1, oh, ow, c), "int8", q_in)
        attrs = dict(window, **({"count_include_pad": False} if op == "avgpool_i8" else {}))
    elif op == "add_i8":  # x + x: a graph has one input
        inputs = ("x", "x")
        out = Tensor("y", (1, h, w, c), "int8", q_out)
        twice_max = 2 * 0.05
        attrs = {"scale_a": list(quantize_multiplier(0.05 / twice_max)),
                 "scale_b": list(quantize_multiplier(0.05 / twice_max)),
                 "scale_out": list(quantize_multiplier(twice_max / ((1 << 20) * 0.08))),
                 "clamp": [-128, 127]}
    elif op == "add_into_i8":  # x into x: a graph has one input
        inputs = ("x", "x")
        out = Tensor("y", (1, h, w, c), "int8", q_out)
        attrs = {"offset": 0, "scale_a": list(quantize_multiplier(0.5)),
                 "scale_b": list(quantize_multiplier(0.5)),
                 "scale_out": list(quantize_multiplier(0.1 / ((1 << 20) * 0.08))),
                 "clamp": [-128, 127], "rescale": list(quantize_multiplier(0.05 / 0.08))}
    elif op == "channelwise_i8":
        out = Tensor("y", (1, h, w, c), "int8", q_out)
        attrs = {"acc_shift": 2, "clamp": [-128, 100]}
        arrays = {"bias": _ints(c, -400, 400, 97).astype(np.int32),
                  "multiplier_pos": np.full(c, mult, np.int32),
                  "shift_pos": np.full(c, shift, np.int32),
                  "multiplier_neg": -np.full(c, mult // 3, np.int32),
                  "shift_neg": np.full(c, shift, np.int32)}
    elif op in ("concat_i8", "concat_bits"):  # [x, x]: a graph has one input
        inputs = ("x", "x")
        out = Tensor("y", (1, h, w, 2 * c), x.dtype, q_out if x.quant else None)
        if op == "concat_i8":
            attrs = {"rescale": [list(quantize_multiplier(0.05 / 0.08))] * 2}
    elif op == "bconv_k":  # the bits of x (a threshold), then the op on them and x
        return _bconv_k_graph(x, oh, ow, q_out)
    else:
        raise ValueError(f"op_graph has no graph for op {op!r}; add one")
    node = Node(f"the_{op}", op, inputs, ("y",), attrs, arrays, f"layers.0 ({op})")
    return Graph({"x": x, "y": out}, (node,), ("x",), ("y",),
                 {"input": {"torch_shape": [1, c, h, w]},
                  "outputs": [{"torch_shape": [1, *out.shape[3:], *out.shape[1:3]]}]})


def _bconv_k_graph(x: Tensor, oh: int, ow: int, q_out: Quant) -> Graph:
    _, h, w, c = x.shape
    signs = Tensor("s", x.shape, "bits")
    out = Tensor("y", (1, oh, ow, 9), "int8", q_out)
    mult, _ = quantize_multiplier(0.37)
    bits = (_ints(9 * 9 * c, 0, 6, 5) < 3).astype(np.uint8).reshape(9, 3, 3, c)
    nodes = (Node("the_signs", "threshold", ("x",), ("s",), {},
                  {"threshold": _ints(c, -5, 5, 3).astype(np.int32),
                   "flip": np.zeros(c, np.uint8)}, "layers.0 (threshold)"),
             Node("the_bconv_k", "bconv_k", ("s", "x"), ("y",),
                  {"stride": [2, 2], "padding": [1, 0, 1, 1], "pad_mode": "zero", "k_shift": 2,
                   "clamp": [-100, 120]},
                  {"weight": pack(bits), "bias": _ints(9, -500, 500, 111).astype(np.int32),
                   "multiplier": np.full(9, mult, np.int32),
                   "shift": _ints(9, -14, -10, 1).astype(np.int32)}, "layers.1 (bconv_k)"))
    return Graph({"x": x, "s": signs, "y": out}, nodes, ("x",), ("y",),
                 {"input": {"torch_shape": [1, c, h, w]},
                  "outputs": [{"torch_shape": [1, 9, oh, ow]}]})


# -- helpers shared by the codegen and CModel tests --------------------------------------


def need_target(target: str) -> None:
    need(*COMPILERS[target])
    if target in EMULATORS:
        need(EMULATORS[target][0], "qemu-user")


def run_program(target: str, program: Path, *args: str, timeout: float = 120
                ) -> subprocess.CompletedProcess:
    prefix = []
    if target in EMULATORS:
        qemu, sysroot = EMULATORS[target]
        prefix = [qemu, "-L", sysroot]
    return subprocess.run([*prefix, str(program), *args], capture_output=True, text=True,
                          timeout=timeout)


def random_input(graph: Graph, n: int, seed: int) -> np.ndarray:
    t = graph.tensors[graph.inputs[0]]
    rng = np.random.default_rng(seed)
    shape = (n, *t.shape[1:])
    if t.dtype == "bits":
        return rng.integers(0, 2, shape).astype(np.uint8)
    if t.dtype == "int8":
        return rng.integers(-128, 128, shape).astype(np.int8)
    return rng.integers(0, 256, shape).astype(np.uint8)
