"""Tensor bytes in the generated C layout (batch 1, HWC) and back.

int8/uint8 tensors are one byte per value; bit tensors are little-endian
uint64 words along C (``ir.bits.pack``). The golden model keeps bits
unpacked as 0/1 uint8, so these two functions are the only conversion.
Numpy only: this module runs on the device too.
"""

from __future__ import annotations

import numpy as np

from ..ir.bits import pack, unpack
from ..ir.graph import Tensor

NUMPY_DTYPES = {"int8": np.int8, "uint8": np.uint8, "bits": np.uint8}


def to_c_bytes(values: np.ndarray, tensor: Tensor) -> bytes:
    """One sample (H, W, C), golden representation, to the C tensor's bytes."""
    values = np.asarray(values)
    if values.shape != tuple(tensor.shape[1:]):
        raise ValueError(f"tensor {tensor.name}: got shape {values.shape}, "
                         f"expected {tuple(tensor.shape[1:])}")
    if tensor.dtype == "bits":
        return pack(values.astype(np.uint8) & 1).astype("<u8").tobytes()
    return values.astype(NUMPY_DTYPES[tensor.dtype]).tobytes()


def from_c_bytes(data: bytes | np.ndarray, tensor: Tensor) -> np.ndarray:
    """The C tensor's bytes to one sample (H, W, C) in the golden representation."""
    raw = np.frombuffer(bytes(data), dtype=np.uint8)
    if raw.size != tensor.nbytes():
        raise ValueError(f"tensor {tensor.name}: got {raw.size} bytes, "
                         f"expected {tensor.nbytes()}")
    _, h, w, c = tensor.shape
    if tensor.dtype == "bits":
        words = raw.view("<u8").reshape(h, w, -1)
        return unpack(words, c)
    return raw.view(NUMPY_DTYPES[tensor.dtype]).reshape(h, w, c).copy()


def dequantize(q: np.ndarray, t: Tensor) -> np.ndarray:
    """Real values of a tensor's integers (golden representation: bits as 0/1)."""
    if t.dtype == "float32":
        return q.astype(np.float32)
    if t.dtype == "bits":
        return (1.0 - 2.0 * q).astype(np.float32)
    assert t.quant is not None
    return (t.quant.scale * (q.astype(np.float64) - t.quant.zero_point)).astype(np.float32)
