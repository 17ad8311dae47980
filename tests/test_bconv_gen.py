"""The binary-conv tiles generated per window shape: aarch64 (codegen/bconv_gen.py)
and armv7 (codegen/bconv_gen32.py).

Cheap and general: simulators of the generated loads (pointer walks,
offsets, post-increments, a given pitch) check on hypothesis-drawn shapes
that every EOR (aarch64) or count (armv7) reads, for the weights its step
loaded, the words of the window that step_words (the weight stream's order)
says. Whole: a chain of binary convs whose shapes only the generated tiles
run (1x1, 5x5, 3x1, odd and partial word counts, stride 2, zero and one
padding, bit and int8 output) built for aarch64 and armv7 and run under qemu
against the golden model, and on armv7 chains of hypothesis-drawn shapes
(words 1..9, dilation too).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnkit import cruntime
from bnnkit.codegen import bconv_gen32, write_project
from bnnkit.codegen.bconv_gen import TileShape, generate
from bnnkit.codegen.bconv_tiles import step_words
from bnnkit.golden.interpreter import run_int
from bnnkit.golden.quant import quantize_multiplier
from bnnkit.golden.windows import out_size
from bnnkit.ir.bits import pack
from bnnkit.ir.graph import Graph, Node, Quant, Tensor
from bnnkit.runtime.layout import from_c_bytes, to_c_bytes

from . import shared_runtime
from .randgraph import need_target, random_input, run_program

_POST = r"(?:, #(-?\d+)|, %\[(o\d+)\])?"
_FULL = re.compile(r"(?:ld1 \{v(\d)\.2d\}|ldr q(\d)), \[%\[b(\d)\]\]" + _POST + "$")
_LANE = re.compile(r"ld1 \{v(\d)\.d\}\[(\d)\], \[%\[b(\d)\]\]" + _POST + "$")
_LDUR = re.compile(r"ldur q(\d), \[%\[b(\d)\], #(-?\d+)\]$")
_EOR = re.compile(r"eor v\d+\.16b, v(\d+)\.16b, v(\d+)\.16b$")


def fed_words(shape: TileShape, pitch: int) -> list[tuple[int, int, tuple[int, ...]]]:
    """(step, input register, its two words' addresses) of every EOR of the tile,
    its loads simulated; window p starts at address 10**6 * p (in words)."""
    tile = generate(shape)
    delta = {name: rows * pitch + cols for (rows, cols), name in tile.offsets.items()}
    ptr = {p: 10**6 * p for p in range(4)}
    vec: dict[int, list[int | None]] = {}
    weight_loads, weight_step = 0, {}
    fed = []

    def move(p: int, imm: str | None, reg: str | None) -> None:
        ptr[p] += int(imm) // 8 if imm else delta[reg] if reg else 0

    for line in tile.lines:
        if "[%[w]]" in line:
            for r in range(4):
                weight_step[24 + 4 * (weight_loads % 2) + r] = weight_loads // 2
            weight_loads += 1
        elif m := _FULL.match(line):
            reg, p = int(m[1] or m[2]), int(m[3])
            vec[reg] = [ptr[p], ptr[p] + 1]
            move(p, m[4], m[5])
        elif m := _LANE.match(line):
            reg, lane, p = int(m[1]), int(m[2]), int(m[3])
            vec.setdefault(reg, [None, None])[lane] = ptr[p]
            move(p, m[4], m[5])
        elif m := _LDUR.match(line):
            vec[int(m[1])] = [ptr[int(m[2])] + int(m[3]) // 8 + k for k in range(2)]
        elif (m := _EOR.match(line)) and int(m[1]) < 4:
            fed.append((weight_step[int(m[2])], int(m[1]), tuple(vec[int(m[1])])))
        else:
            assert not line.startswith(("ld", "st")), f"unsimulated load: {line}"
    return fed


def expected_words(shape: TileShape, pitch: int) -> set[tuple[int, int, tuple[int, ...]]]:
    L = shape.row_words

    def addr(p: int, f: int) -> int:
        return 10**6 * p + f // L * pitch + f % L

    out = set()
    for k, (a, b) in enumerate(step_words(shape.kernel_h, L)):
        if a == b:  # an odd last row's word: windows 0, 1 in v0 and 2, 3 in v1
            out |= {(k, v, (addr(2 * v, a), addr(2 * v + 1, a))) for v in range(2)}
        else:
            out |= {(k, p, (addr(p, a), addr(p, b))) for p in range(4)}
    return out


@settings(max_examples=60, deadline=None, database=None)
@given(kh=st.integers(1, 7), kw=st.integers(1, 7), nwords=st.integers(1, 9),
       extra=st.integers(0, 40))
def test_tile_feeds_each_step_its_window_words(kh: int, kw: int, nwords: int, extra: int
                                               ) -> None:
    shape = TileShape(kh, kw, nwords)
    pitch = shape.row_words + extra  # rows as far apart as a strip, patch or input puts them
    fed = fed_words(shape, pitch)
    expected = expected_words(shape, pitch)
    assert set(fed) == expected
    assert len(fed) == 8 * len(expected)  # each vector against the 8 channels' weights


_A32_LOAD = re.compile(r'"vld1\.64 \{d(\d+)(?:-d(\d+))?\}, \[%\[b(\d)\]\]'
                       r'(!|, %\[(o\d+)\])?\\n\\t"$')


def fed_words_a32(shape: TileShape, pitch: int) -> list[tuple[int, int, tuple[int, ...]]]:
    """(step, window, the words its input vector holds) of every count of the
    generated armv7 half, its loads simulated; window p starts at address
    10**6 * p (in words). A count of two-row words (BNN_A32_COUNT_WORD) reads
    one word of each window (window p's in d register 24 + p)."""
    args = bconv_gen32.template_args(shape)
    delta = {}  # the operands as the C code computes them, in words
    for operand in args["offsets"]:
        name, expr = re.fullmatch(r'\[(o\d+)\] "r"\((.*)\)', operand).groups()
        delta[name] = eval(expr, {"pitch": pitch}) // 8
    ptr: dict[int, int] = {0: 0, 1: 10**6}
    d: dict[int, int] = {}
    step, fed = -1, []
    for line in args["lines"]:
        if line == "BNN_A32_WEIGHTS(W)":
            step += 1
        elif m := _A32_LOAD.match(line):
            lo, hi, p = int(m[1]), int(m[2] or m[1]), int(m[3])
            for k, reg in enumerate(range(lo, hi + 1)):
                d[reg] = ptr[p] + k
            ptr[p] += hi - lo + 1 if m[4] == "!" else delta[m[5]] if m[5] else 0
        elif line.startswith("BNN_A32_COUNT("):
            fed += [(step, p, (d[24 + 2 * p], d[25 + 2 * p])) for p in range(2)]
        elif line == "BNN_A32_COUNT_WORD":
            fed += [(step, p, (d[24 + p],)) for p in range(2)]
        else:
            assert line == "BNN_A32_ZERO" and step == 0, f"unsimulated: {line}"
    return fed


@settings(max_examples=80, deadline=None, database=None)
@given(kh=st.integers(1, 11), kw=st.integers(1, 11), nwords=st.integers(1, 9),
       extra=st.integers(0, 40))
def test_a32_half_feeds_each_step_its_window_words(kh: int, kw: int, nwords: int, extra: int
                                                   ) -> None:
    shape = TileShape(kh, kw, nwords)
    L, pitch = shape.row_words, shape.row_words + extra
    half = bconv_gen32.generate(shape)

    def addr(p: int, f: int) -> int:
        return 10**6 * p + f // L * pitch + f % L

    expected = [(k, p, (addr(p, a),) if a == b else (addr(p, a), addr(p, b)))
                for k, (a, b) in enumerate(step_words(kh, L)) for p in range(2)]
    assert fed_words_a32(shape, pitch) == expected
    assert half.steps == len(step_words(kh, L)) and len(half.offsets) <= 3  # registers
    # the first step starts the accumulators, later ones add to them
    counts = [ln for ln in half.lines if ln.startswith(("BNN_A32_COUNT", "BNN_A32_ZERO"))]
    assert counts[0] in ('BNN_A32_COUNT("vpaddl.u8")', "BNN_A32_ZERO")
    assert all("vpaddl" not in ln for ln in counts[1:])


def test_a32_runtime_straight_is_the_runtime_s() -> None:
    """No block is generated for the windows bconv_neon32.h runs straight itself."""
    text = (cruntime.SOURCE_DIR / "bconv_neon32.h").read_text()
    macro = re.search(r"#define BNN_A32_STRAIGHT\(rows, L\)\s*\\\n(.*)", text)[1]
    (rows,) = re.findall(r"\(rows\) == (\d+)", macro)
    assert {(int(rows), int(L)) for L in re.findall(r"\(L\) == (\d+)", macro)} == \
        bconv_gen32.RUNTIME_STRAIGHT


def test_a32_back_takes_any_window() -> None:
    """The weight pointer's move between the halves in immediates one sub takes."""
    for steps in (1, 5, 128, 129, 300, 512):
        parts = [int(p) for p in re.findall(r'BNN_A32_BACK\("(\d+)"\)', bconv_gen32.back(steps))]
        assert sum(parts) == 128 * steps - 64
        for v in parts:  # 8 significant bits at an even shift
            assert any(v >> s << s == v and v >> s < 256 for s in range(0, 32, 2)), v


def _bconv(name: str, x: Tensor, kernel: tuple[int, int], stride: int, pad: int, pad_mode: str,
           out: Tensor, rng: np.random.Generator, dilation: int = 1) -> Node:
    c_in, c_out = x.shape[3], out.shape[3]
    attrs = {"stride": [stride, stride], "padding": [pad] * 4, "pad_mode": pad_mode}
    if dilation > 1:
        attrs["dilation"] = [dilation, dilation]
    arrays = {"weight": pack(rng.integers(0, 2, (c_out, *kernel, c_in), dtype=np.uint8))}
    taps = kernel[0] * kernel[1] * c_in
    if out.dtype == "bits":
        arrays["threshold"] = rng.integers(-taps // 8, taps // 8 + 1, c_out).astype(np.int32)
    else:
        mult, shift = quantize_multiplier(0.37)
        attrs.update(acc_shift=0, clamp=[-128, 127])
        arrays.update(bias=rng.integers(-50, 50, c_out).astype(np.int32),
                      multiplier=np.full(c_out, mult, np.int32),
                      shift=np.full(c_out, shift - 4, np.int32))
    return Node(name, "bconv", (x.name,), (out.name,), attrs, arrays, f"layers.{name}")


#: A layer: (kernel, stride, padding, mode, out channels, out dtype, dilation).
Layer = tuple[tuple[int, int], int, int, str, int, str, int]


def chain(size: tuple[int, int, int], layers: list[Layer], seed: int = 7) -> Graph:
    """x (h x w, c channels) through binary convs of the given shapes."""
    rng = np.random.default_rng(seed)
    h, w, c = size
    x = Tensor("x", (1, h, w, c), "bits")
    tensors, nodes = {"x": x}, []
    for i, (kernel, stride, pad, mode, c_out, dtype, dilation) in enumerate(layers):
        _, h, w, _ = x.shape
        oh = out_size(h, dilation * (kernel[0] - 1) + 1, stride, pad, pad)
        ow = out_size(w, dilation * (kernel[1] - 1) + 1, stride, pad, pad)
        out = Tensor(f"t{i}", (1, oh, ow, c_out), dtype,
                     Quant(0.08, 5) if dtype == "int8" else None)
        nodes.append(_bconv(f"n{i}", x, kernel, stride, pad, mode, out, rng, dilation))
        tensors[out.name] = x = out
    return Graph(tensors, tuple(nodes), ("x",), (x.name,),
                 {"input": {"torch_shape": [1, c, *size[:2]]},
                  "outputs": [{"torch_shape": [1, x.shape[3], *x.shape[1:3]]}]})


def tile_chain() -> Graph:
    """x (9x11, 40 channels) through binary convs of shapes only the generated
    tiles run."""
    return chain((9, 11, 40), [
        ((1, 1), 1, 0, "zero", 96, "bits", 1),   # 1 word: an odd last row first
        ((5, 5), 2, 2, "zero", 200, "bits", 1),  # 2 words, 5x5, stride 2
        ((3, 3), 2, 1, "zero", 130, "bits", 1),  # 4 words at stride 2
        ((3, 3), 1, 1, "one", 65, "bits", 1),    # 3 words: odd rows
        ((3, 1), 1, 1, "zero", 20, "bits", 1),   # 2 words, border windows counted
        ((1, 1), 1, 0, "zero", 24, "int8", 1)])  # 1 word (a halves first step), int8 out


def check_on(target: str, graph: Graph, directory: Path, cache: Path) -> str:
    """Build graph for target, run its selftest and one random input against
    the golden model under qemu; the model's C source."""
    project = write_project(graph, directory / "tiles", target=target, name="tiles",
                            command_line="test_bconv_gen").directory
    program = shared_runtime.program(project, target, cache)
    proc = run_program(target, program, "--selftest")
    assert proc.returncode == 0 and "FAIL" not in proc.stdout, proc.stdout + proc.stderr
    q = random_input(graph, 1, seed=11)
    t_in, t_out = graph.tensors["x"], graph.tensors[graph.outputs[0]]
    (directory / "in.bin").write_bytes(to_c_bytes(q[0], t_in))
    proc = run_program(target, program, "--input", str(directory / "in.bin"),
                       "--output", str(directory / "out.bin"))
    assert proc.returncode == 0, proc.stderr
    got = from_c_bytes((directory / "out.bin").read_bytes(), t_out)
    np.testing.assert_array_equal(got, run_int(graph, q)[0])
    return (project / "tiles.c").read_text()


@pytest.mark.parametrize("target", ["armv8", "armv7"])
def test_generated_tiles_match_golden(target: str, tmp_path: Path, runtime_cache: Path) -> None:
    need_target(target)
    source = check_on(target, tile_chain(), tmp_path, runtime_cache)
    for name in ("tile8_1x1_w1", "tile8_5x5_w2", "tile8_3x3_w4", "tile8_3x3_w3",
                 "tile8_3x1_w2"):
        assert f".tile8 = &{name}," in source, name
        # its armv7 block, but for the shapes the runtime writes out (3x3 of 4 words)
        assert (f"{name.upper()}_HALF(W)" in source) == (name != "tile8_3x3_w4"), name


_LAYER = st.tuples(st.sampled_from([(1, 1), (3, 1), (3, 3), (5, 5)]), st.integers(1, 2),
                   st.booleans(), st.sampled_from(["zero", "one"]), st.integers(1, 576),
                   st.sampled_from([1, 1, 1, 2]))


@settings(max_examples=4, deadline=None, database=None)
@given(c_in=st.integers(1, 576), raw=st.lists(_LAYER, min_size=2, max_size=4),
       int8_out=st.booleans(), seed=st.integers(0, 2**16))
def test_generated_a32_tiles_match_golden_on_random_shapes(
        c_in: int, raw: list[tuple], int8_out: bool, seed: int, tmp_path_factory,
        runtime_cache: Path) -> None:
    """Chains of drawn shapes (words 1..9 a tap, padding none or half the
    kernel, dilation 2 now and then: that runs the general path) on armv7."""
    need_target("armv7")
    layers: list[Layer] = []
    h, w = 12, 13
    for k, (kernel, stride, padded, mode, c_out, dilation) in enumerate(raw):
        dtype = "int8" if int8_out and k == len(raw) - 1 else "bits"
        pad = kernel[0] // 2 * padded
        if min(h, w) + 2 * pad < dilation * (kernel[0] - 1) + 1:  # too small: half padding
            pad, dilation = kernel[0] // 2, 1
        layers.append((kernel, stride, pad, mode, c_out, dtype, dilation))
        h, w = (out_size(n, dilation * (kernel[i] - 1) + 1, stride, pad, pad)
                for i, n in enumerate((h, w)))
    check_on("armv7", chain((12, 13, c_in), layers, seed), tmp_path_factory.mktemp("a32"),
             runtime_cache)
