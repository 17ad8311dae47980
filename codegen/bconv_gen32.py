"""Straight armv7 binary-conv blocks, generated per window shape at export.

The armv7 block (``cruntime/bconv_neon32.h``, ``BNN_A32_BLOCK_BODY``)
computes 2 windows x 8 output channels as two halves of 4 channels, each
half one pass over the windows: per step of the weight stream
(``bconv_tiles.py``'s ``step_words``) 4 weight vectors (``BNN_A32_WEIGHTS``),
one vector of each window (window 0 in q12, window 1 in q13) and their
count (``BNN_A32_COUNT``). The runtime writes that half out only for the
3x3 windows of 64, 128, 256 and 512 channels and loops for any other; this
module writes it out for one window shape (kernel_h, kernel_w, words per
tap), the same steps without loops or address arithmetic: each window's
pointer walks its loads in step order and every load moves it on to the next
one's address, by the transfer size (``!``) where that follows on, else by
one of a few pitch-dependent registers (armv7's NEON loads post-increment by
nothing else). The count itself is the runtime's macros, so the generated
half is only the loads between them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bconv_gen import TileShape
from .bconv_tiles import step_words

#: Rows of words of the windows bconv_neon32.h writes out itself
#: (BNN_A32_STRAIGHT: 3 rows of 3, 6, 12 or 24 words, e.g. 3x3 of 64 to 512
#: channels), inlined into its callers: no block is generated for them
#: (preferring the generated one there, called through a pointer, took
#: cifar_bnn's armv7 binary convs 12.31 -> 12.45 M instructions).
RUNTIME_STRAIGHT = frozenset((3, L) for L in (3, 6, 12, 24))
#: The d registers of each window's input vector (q12, q13).
INPUT_D = ((24, 25), (26, 27))
#: Steps above this move the weight pointer back between the halves by more
#: than one ``sub`` immediate takes (255 << 6 bytes).
ONE_SUB_STEPS = 128


@dataclass(frozen=True)
class Load:
    """One input load of a window's step: word (flat index into the window's
    [row][word]) and length (2: a word pair into the whole q register, 1: a
    word into one d register, `half` 0 low / 1 high)."""

    word: int
    size: int
    half: int = 0


@dataclass(frozen=True)
class Half:
    """A generated half: its C fragments (string literals and the runtime's
    macros), the pitch-dependent post-increment registers ((rows, words)
    apart -> operand name) and its steps."""

    shape: TileShape
    lines: list[str]
    offsets: dict[tuple[int, int], str]
    steps: int


def runtime_straight(shape: TileShape) -> bool:
    return (shape.kernel_h, shape.row_words) in RUNTIME_STRAIGHT


def step_loads(shape: TileShape, high_first: bool) -> list[tuple[str, list[Load]]]:
    """Per step its kind and each window's loads in order: a row's word pair;
    the last words of two rows (row r - 1's into the low d register, row r's
    into the high one, the high one first if `high_first`); or an odd last
    row's last word (window p's into d register p of q12)."""
    L = shape.row_words
    out: list[tuple[str, list[Load]]] = []
    for a, b in step_words(shape.kernel_h, L):
        if b == a + 1 and a // L == b // L:
            out.append(("pair", [Load(a, 2)]))
        elif b == a + L:
            ends = [Load(a, 1, 0), Load(b, 1, 1)]
            out.append(("ends", ends[::-1] if high_first else ends))
        else:
            out.append(("word", [Load(a, 1)]))
    return out


def _deltas(shape: TileShape, loads: list[Load]) -> list[tuple[int, int] | None]:
    """Each load's post-increment to the next load, (rows, words), or None:
    the transfer size ('!') or the last load."""
    L = shape.row_words
    out: list[tuple[int, int] | None] = []
    for ld, nxt in zip(loads, [*loads[1:], None], strict=True):
        if nxt is None or nxt.word == ld.word + ld.size and nxt.word // L == ld.word // L:
            out.append(None)
        else:
            out.append((nxt.word // L - ld.word // L, nxt.word % L - ld.word % L))
    return out


def _walk(shape: TileShape) -> list[tuple[str, list[Load]]]:
    """step_loads in the order of the row ends' loads that needs the fewest
    post-increment registers, among those whose first load is at the window
    start (where the pointer starts)."""
    def cost(high_first: bool) -> int:
        flat = [ld for _, loads in step_loads(shape, high_first) for ld in loads]
        if flat[0].word != 0:
            return 1 << 30
        return len({d for d in _deltas(shape, flat) if d is not None})
    return step_loads(shape, min((True, False), key=cost))


def _load(kind: str, window: int, ld: Load, post: str) -> str:
    """The load of `ld` into window's input register (an odd last row's word:
    window p's into d register p of q12)."""
    lo, hi = INPUT_D[window]
    if kind == "word":
        regs = f"d{INPUT_D[0][window]}"
    elif ld.size == 2:
        regs = f"d{lo}-d{hi}"
    else:
        regs = f"d{hi if ld.half else lo}"
    return f'"vld1.64 {{{regs}}}, [%[b{window}]]{post}\\n\\t"'


def generate(shape: TileShape) -> Half:
    """The straight half of one window shape (2 windows x 4 channels)."""
    steps = _walk(shape)
    offsets: dict[tuple[int, int], str] = {}
    posts = [("!" if d is None else f", %[{offsets.setdefault(d, f'o{len(offsets)}')}]")
             for d in _deltas(shape, [ld for _, loads in steps for ld in loads])]
    posts[-1] = ""  # the last load moves no pointer: the next half reloads both
    lines: list[str] = []
    for i, (kind, loads) in enumerate(steps):
        lines.append("BNN_A32_WEIGHTS(W)")
        for ld in loads:
            post = posts.pop(0)
            lines += [_load(kind, p, ld, post) for p in range(2)]
        if kind == "word":  # accumulated into halves of the accumulators: none start it
            lines += ["BNN_A32_ZERO", "BNN_A32_COUNT_WORD"] if i == 0 else ["BNN_A32_COUNT_WORD"]
        else:
            lines.append(f'BNN_A32_COUNT("{"vpaddl.u8" if i == 0 else "vpadal.u8"}")')
    return Half(shape, lines, offsets, len(steps))


def back(steps: int) -> str:
    """BNN_A32_BACK fragments moving the weight pointer from the end of the
    first half to the second half's start: back over steps * 128 bytes less
    64, in immediates that one ``sub`` takes."""
    total = 128 * steps - 64
    parts = [total & ~0x3FFF, total & 0x3FC0] if steps > ONE_SUB_STEPS else [total]
    return " ".join(f'BNN_A32_BACK("{p}")' for p in parts if p)


def offset_expr(delta: tuple[int, int]) -> str:
    """C bytes of a post-increment `delta` (rows, words) for a `pitch` in words."""
    rows, cols = delta
    return f"pitch * {8 * rows} {'-' if cols < 0 else '+'} {8 * abs(cols)}"


def template_args(shape: TileShape) -> dict[str, object]:
    """What templates/bconv_tile8_a32.c.j2 renders for one shape."""
    half = generate(shape)
    return {"lines": half.lines, "back": back(half.steps),
            "offsets": [f'[{name}] "r"({offset_expr(delta)})'
                        for delta, name in half.offsets.items()]}
