"""Bit packing of the channel axis (DESIGN.md section 2).

Channel c of a pixel goes to word c // 64, bit c % 64, little-endian;
unused bits of the last word are 0. Bit 1 means -1.
"""

from __future__ import annotations

import numpy as np


def words(channels: int) -> int:
    return (channels + 63) // 64


def to_bits(values: np.ndarray) -> np.ndarray:
    """+-1 (or any real) values to 0/1 bits: bit 1 where value < 0."""
    return (np.asarray(values) < 0).astype(np.uint8)


def pack(bits: np.ndarray) -> np.ndarray:
    """0/1 array (..., C) to uint64 words (..., ceil(C/64))."""
    bits = np.asarray(bits, dtype=np.uint8)
    c = bits.shape[-1]
    padded = np.zeros(bits.shape[:-1] + (words(c) * 64,), dtype=np.uint8)
    padded[..., :c] = bits
    as_bytes = np.packbits(padded, axis=-1, bitorder="little")
    return as_bytes.view("<u8").reshape(bits.shape[:-1] + (words(c),))


def unpack(packed: np.ndarray, channels: int) -> np.ndarray:
    """uint64 words (..., W) to 0/1 bits (..., channels)."""
    packed = np.ascontiguousarray(packed, dtype="<u8")
    as_bytes = packed.view(np.uint8).reshape(packed.shape[:-1] + (packed.shape[-1] * 8,))
    return np.unpackbits(as_bytes, axis=-1, bitorder="little")[..., :channels]
