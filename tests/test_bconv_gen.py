"""The aarch64 binary-conv tiles generated per window shape (codegen/bconv_gen.py).

Cheap and general: a simulator of the generated loads (pointer walks,
offsets, post-increments, a given pitch) checks on hypothesis-drawn shapes
that every EOR reads, for the weights its step loaded, the words of the
window that step_words (the weight stream's order) says. Whole: a chain of
binary convs whose shapes only the generated tiles run (1x1, 5x5, 3x1, odd
and partial word counts, stride 2, zero and one padding, bit and int8
output) built for aarch64 and run under qemu against the golden model.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnkit.codegen import write_project
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


def _bconv(name: str, x: Tensor, kernel: tuple[int, int], stride: int, pad: int, pad_mode: str,
           out: Tensor, rng: np.random.Generator) -> Node:
    c_in, c_out = x.shape[3], out.shape[3]
    attrs = {"stride": [stride, stride], "padding": [pad] * 4, "pad_mode": pad_mode}
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


def tile_chain(seed: int = 7) -> Graph:
    """x (9x11, 40 channels) through binary convs of shapes only the generated
    tiles run: (kernel, stride, padding, mode, out channels, out dtype)."""
    rng = np.random.default_rng(seed)
    layers = [((1, 1), 1, 0, "zero", 96, "bits"),     # 1 word: an odd last row first
              ((5, 5), 2, 2, "zero", 200, "bits"),    # 2 words, 5x5, stride 2
              ((3, 3), 2, 1, "zero", 130, "bits"),    # 4 words at stride 2
              ((3, 3), 1, 1, "one", 65, "bits"),      # 3 words: odd rows
              ((3, 1), 1, 1, "zero", 20, "bits"),     # 2 words, border windows counted
              ((1, 1), 1, 0, "zero", 24, "int8")]     # 1 word (a halves first step), int8 out
    x = Tensor("x", (1, 9, 11, 40), "bits")
    tensors, nodes = {"x": x}, []
    for i, (kernel, stride, pad, mode, c_out, dtype) in enumerate(layers):
        _, h, w, _ = x.shape
        oh = out_size(h, kernel[0], stride, pad, pad)
        ow = out_size(w, kernel[1], stride, pad, pad)
        out = Tensor(f"t{i}", (1, oh, ow, c_out), dtype,
                     Quant(0.08, 5) if dtype == "int8" else None)
        nodes.append(_bconv(f"n{i}", x, kernel, stride, pad, mode, out, rng))
        tensors[out.name] = x = out
    return Graph(tensors, tuple(nodes), ("x",), (x.name,),
                 {"input": {"torch_shape": [1, 40, 9, 11]},
                  "outputs": [{"torch_shape": [1, x.shape[3], *x.shape[1:3]]}]})


def test_generated_tiles_match_golden_on_aarch64(tmp_path: Path, runtime_cache: Path) -> None:
    need_target("armv8")
    graph = tile_chain()
    project = write_project(graph, tmp_path / "tiles", target="armv8", name="tiles",
                            command_line="test_bconv_gen").directory
    source = (project / "tiles.c").read_text()
    for name in ("tile8_1x1_w1", "tile8_5x5_w2", "tile8_3x3_w4", "tile8_3x3_w3",
                 "tile8_3x1_w2"):
        assert f".tile8 = &{name}," in source, name
    program = shared_runtime.program(project, "armv8", runtime_cache)
    proc = run_program("armv8", program, "--selftest")
    assert proc.returncode == 0 and "FAIL" not in proc.stdout, proc.stdout + proc.stderr
    q = random_input(graph, 1, seed=11)
    t_in, t_out = graph.tensors["x"], graph.tensors[graph.outputs[0]]
    (tmp_path / "in.bin").write_bytes(to_c_bytes(q[0], t_in))
    proc = run_program("armv8", program, "--input", str(tmp_path / "in.bin"),
                       "--output", str(tmp_path / "out.bin"))
    assert proc.returncode == 0, proc.stderr
    got = from_c_bytes((tmp_path / "out.bin").read_bytes(), t_out)
    np.testing.assert_array_equal(got, run_int(graph, q)[0])

