"""Straight aarch64 binary-conv tiles, generated per window shape at export.

A tile computes 4 windows x 8 output channels (``cruntime/bconv_neon.c``'s
``count_tile8`` contract): per step of the weight stream (``bconv_tiles.py``'s
``step_words``) one vector of each window against 8 weight vectors. The
generated tile is the whole window written out for one shape (kernel_h,
kernel_w, words per tap), so it has no loops and no address arithmetic:
within a kernel row a window's loads read at offsets from the row's last
load, and only that load moves the pointer on, by a post-increment (an
immediate, or one of a few pitch-dependent registers across rows). Each step
is ``bconv_schedule.py``'s 4-window schedule for the in-order Cortex-A53
(later windows' EOR / CNT fill the earlier windows' waits); its load slots
load the next step's weights and inputs as soon as this step has read what
they overwrite, so that they arrive while this step's trees finish.

Registers: inputs v0-v3 (window p's vector in vp; an odd last row's word
pairs two windows: windows 0, 1 in v0 and 2, 3 in v1), scratch v12-v23,
weights v24-v31, the accumulators wherever the compiler puts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.bits import words
from .bconv_schedule import Slot, instructions
from .bconv_tiles import step_words

WINDOWS = 4
WEIGHT_LOADS = ("ld1 {v24.16b, v25.16b, v26.16b, v27.16b}, [%[w]], #64",
                "ld1 {v28.16b, v29.16b, v30.16b, v31.16b}, [%[w]], #64")
#: What the loads that move a pointer wait for (every read of the step's
#: inputs): issued together, an in-order core waits for earlier results'
#: write-back once for all of them, not once each (llvm-mca's A53 model, 3x3
#: windows of 64 / 128 / 256 channels: 4.75 / 4.16 / 4.07 -> 4.59 / 4.09 /
#: 4.00 cycles per 128 binary MACs).
INPUTS = tuple(f"x{w}" for w in range(WINDOWS))
#: Byte post-increments ``ldr q`` takes as an immediate (signed 9 bits).
IMM9 = range(-256, 256)
#: A run's words: its loads reach its last one's address with an IMM9 offset.
RUN_WORDS = 30


@dataclass(frozen=True)
class TileShape:
    """The window shape a tile is specialized for."""

    kernel_h: int
    kernel_w: int
    words: int  #: 64-bit words per tap: ceil(in_channels / 64)

    @property
    def row_words(self) -> int:
        return self.kernel_w * self.words

    @property
    def name(self) -> str:
        return f"tile8_{self.kernel_h}x{self.kernel_w}_w{self.words}"


@dataclass(frozen=True)
class Load:
    """One input load of a window: vector register, lane (None: all 16 bytes)
    and the window word it reads (kernel row, word of the row)."""

    window: int
    reg: int
    lane: int | None
    row: int
    col: int


def shape_of(kernel: tuple[int, int], in_channels: int) -> TileShape:
    return TileShape(kernel[0], kernel[1], words(in_channels))


def step_loads(shape: TileShape) -> list[list[Load]]:
    """Per step, the loads of its input vectors: a row's word pair (one 16-byte
    load per window), the last words of two rows (two lanes per window), or
    an odd last row's last word (two windows' words in one vector)."""
    L = shape.row_words
    steps = []
    for a, b in step_words(shape.kernel_h, L):
        if b == a + 1 and a // L == b // L:
            steps.append([Load(p, p, None, a // L, a % L) for p in range(WINDOWS)])
        elif b == a + L:
            steps.append([Load(p, p, lane, row // L, L - 1)
                          for p in range(WINDOWS) for lane, row in ((0, a), (1, b))])
        else:
            steps.append([Load(p, p // 2, p % 2, a // L, L - 1) for p in range(WINDOWS)])
    return steps


def _segments(loads: list[Load]) -> list[list[Load]]:
    """One window's loads in order, cut into runs of 16-byte loads of one
    kernel row within RUN_WORDS (each lane load alone)."""
    out: list[list[Load]] = []
    for ld in loads:
        prev = out[-1][-1] if out else None
        if prev is not None and ld.lane is None and prev.lane is None and prev.row == ld.row \
                and ld.col - out[-1][0].col < RUN_WORDS:
            out[-1].append(ld)
        else:
            out.append([ld])
    return out


class _Walk:
    """The load instructions of one window: its pointer sits at the last load
    of each row's run, so that the run's other loads read at a small negative
    offset without writing the pointer back (an in-order core issues them
    without waiting for earlier results' write-back, llvm-mca's A53 model
    too), and only the last load moves the pointer, with a post-increment, to
    the next run's last load. Runs too long for the offsets chain their loads
    with post-increments instead."""

    def __init__(self, window: int, offsets: dict[tuple[int, int], str]) -> None:
        self.b, self.offsets = f"%[b{window}]", offsets

    def _post(self, at: tuple[int, int], to: tuple[int, int] | None, size: int) -> str:
        if to is None:
            return ""
        delta = (to[0] - at[0], to[1] - at[1])
        if delta == (0, size):
            return f", #{8 * size}"
        if delta[0] == 0 and size == 2 and 8 * delta[1] in IMM9:
            return f", #{8 * delta[1]}"
        return f", %[{self.offsets.setdefault(delta, f'o{len(self.offsets)}')}]"

    def _moving(self, ld: Load, to: tuple[int, int] | None) -> str:
        """A load at the pointer that then moves it to `to`."""
        post = self._post((ld.row, ld.col), to, 1 if ld.lane is not None else 2)
        if ld.lane is not None:
            return f"ld1 {{v{ld.reg}.d}}[{ld.lane}], [{self.b}]{post}"
        if post.startswith(", #") and post != ", #16":
            return f"ldr q{ld.reg}, [{self.b}]{post}"
        return f"ld1 {{v{ld.reg}.2d}}, [{self.b}]{post}"

    def texts(self, loads: list[Load]) -> dict[Load, str]:
        runs = _segments(loads)
        short = [all(8 * (ld.col - run[-1].col) in IMM9 for ld in run) for run in runs]
        # where the pointer waits for each run: its last load, or a long run's first
        anchors = [(run[-1] if fits else run[0]) for run, fits in zip(runs, short, strict=True)]
        out: dict[Load, str] = {}
        for k, run in enumerate(runs):
            nxt = (anchors[k + 1].row, anchors[k + 1].col) if k + 1 < len(runs) else None
            if not short[k]:
                chain = [(ld.row, ld.col) for ld in run[1:]] + [nxt]
                out.update((ld, self._moving(ld, to)) for ld, to in zip(run, chain, strict=True))
                continue
            here = run[-1]
            if k == 0 and len(run) > 1:  # the pointer starts at the window: on to the anchor
                out[run[0]] = self._moving(run[0], (here.row, here.col))
                run = run[1:]
            for ld in run[:-1]:
                out[ld] = f"ldur q{ld.reg}, [{self.b}, #{8 * (ld.col - here.col)}]"
            out[run[-1]] = self._moving(run[-1], nxt)
        return out


@dataclass(frozen=True)
class Tile:
    """A generated tile: its asm lines and the pitch-dependent post-increment
    registers ((rows, words) apart -> operand name)."""

    shape: TileShape
    lines: list[str]
    offsets: dict[tuple[int, int], str]


def _step(halves: bool, first: bool, slots: list[tuple[Slot, list[str]]]) -> list[str]:
    """One scheduled step; slots (the next step's loads) fill its load slots.
    The first step sets the accumulators (UADDLP, or a halves step's UXTL)
    instead of adding to them."""
    regs = {f"x{w}": f"v{w}" for w in range(WINDOWS)}
    regs.update({f"a{w}": f"%[a{w}]" for w in range(WINDOWS)})
    lines = {f"ld{k + 1}": text for k, (_, text) in enumerate(slots)}
    out: list[str] = []
    for op, operands in instructions(halves, tuple(slot for slot, _ in slots)):
        if op.startswith("form"):
            continue  # the tile's inputs come loaded
        if op.startswith("ld"):
            out += lines[op]
            continue
        ops = [regs.get(v, v) for v in operands]
        if op == "acc":
            out.append(f"{'uaddlp' if first else 'uadalp'} {ops[0]}.8h, {ops[1]}.16b")
        elif op == "uaddw" and first:
            out.append(f"uxtl {ops[0]}.8h, {ops[1]}.8b")
        elif op == "uaddw":
            out.append(f"uaddw {ops[0]}.8h, {ops[0]}.8h, {ops[1]}.8b")
        else:
            out.append(f"{op} " + ", ".join(f"{r}.16b" for r in ops))
    return out


def _is_halves(step: list[Load]) -> bool:
    return step[1].window == 1 and step[1].reg == 0  # windows 0, 1 share v0


def generate(shape: TileShape) -> Tile:
    """The straight tile of one window shape (4 windows x one block of 8 channels)."""
    steps = step_loads(shape)
    flat = [ld for step in steps for ld in step]
    offsets: dict[tuple[int, int], str] = {}
    texts: dict[Load, str] = {}
    for p in range(WINDOWS):
        texts.update(_Walk(p, offsets).texts([ld for ld in flat if ld.window == p]))

    def text(ld: Load) -> str:
        return texts[ld]

    def slots(step: list[Load]) -> list[tuple[Slot, list[str]]]:
        """A step's loads as the slots of the step before: each weight half,
        each window's loads (a window's that read at offsets wait only for
        the last reads of what they overwrite)."""
        out = [(Slot(tuple(f"v{24 + 4 * h + i}" for i in range(4)), "w"), [WEIGHT_LOADS[h]])
               for h in range(2)]
        for p in range(WINDOWS):
            mine = [ld for ld in step if ld.window == p]
            code = [text(ld) for ld in mine]
            moving = any("]," in line for line in code)  # a post-increment
            out.append((Slot(INPUTS if moving else (f"x{mine[0].reg}",), f"b{p}", len(mine)),
                        code))
        return out

    lines = [line for _, text_lines in slots(steps[0]) for line in text_lines]
    for k, step in enumerate(steps):
        nxt = slots(steps[k + 1]) if k + 1 < len(steps) else []
        lines += _step(_is_halves(step), k == 0, nxt)
    return Tile(shape, lines, offsets)


def offset_expr(delta: tuple[int, int]) -> str:
    """C bytes of a post-increment `delta` (rows, words) for a `pitch` in words."""
    rows, cols = delta
    return f"(int64_t)pitch * {8 * rows} {'-' if cols < 0 else '+'} {8 * abs(cols)}"


def template_args(shape: TileShape, layers: list[str]) -> dict[str, object]:
    """What templates/bconv_tile8.c.j2 renders for one shape used by `layers`."""
    tile = generate(shape)
    return {"name": shape.name, "kh": shape.kernel_h, "kw": shape.kernel_w,
            "words": shape.words, "channels": f"{64 * shape.words - 63}..{64 * shape.words}",
            "steps": len(step_words(shape.kernel_h, shape.row_words)), "layers": layers,
            "lines": tile.lines,
            "offsets": [f'[{name}] "r"({offset_expr(delta)})'
                        for delta, name in tile.offsets.items()]}
