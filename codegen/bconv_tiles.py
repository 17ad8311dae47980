"""Binary conv weights in the order the aarch64 tile reads them.

The tile (cruntime/bconv_neon.c, ``count_tile8``) computes 4 output pixels x
8 output channels and streams its weights: 8 vectors of two words, one per
channel, per step, read 4 registers at a time with post-increment, so the
stream must be laid out exactly in the order of the steps. A window is
``kernel_h`` rows of ``L = kernel_w * words(c_in)`` words; per row the steps
take the word pairs (2j, 2j + 1); with L odd, the last words of rows r - 1
and r form one vector after each odd row r, and an odd last row's last word
is paired with itself (the tile puts two pixels' words in that vector).
"""

from __future__ import annotations

import numpy as np

#: Output channels per tile.
TILE_CHANNELS = 8


def step_words(kernel_h: int, row_words: int) -> list[tuple[int, int]]:
    """(word, word) of the flattened [row][word] window per tile step, in order."""
    steps = []
    for r in range(kernel_h):
        base = r * row_words
        steps += [(base + 2 * j, base + 2 * j + 1) for j in range(row_words // 2)]
        if row_words % 2 and r % 2:
            steps.append((base - 1, base + row_words - 1))
    if row_words % 2 and kernel_h % 2:
        last = kernel_h * row_words - 1
        steps.append((last, last))
    return steps


def bconv_tiles(weight: np.ndarray) -> np.ndarray:
    """[out][kh][kw][words] uint64 weights -> the flat tile-order stream:
    [ceil(out / 8)][step][8 channels][2 words], missing channels zero."""
    out, kh, kw, nwords = weight.shape
    flat = np.zeros((-(-out // TILE_CHANNELS) * TILE_CHANNELS, kh * kw * nwords), np.uint64)
    flat[:out] = weight.reshape(out, -1)
    index = np.asarray(step_words(kh, kw * nwords), dtype=np.int64)  # [step][2]
    blocks = flat.reshape(-1, TILE_CHANNELS, flat.shape[1])           # [block][ch][word]
    return np.ascontiguousarray(blocks[:, :, index].transpose(0, 2, 1, 3)).reshape(-1)
