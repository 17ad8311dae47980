"""Formatting of constant data as C initializers (deterministic text)."""

from __future__ import annotations

import math

import numpy as np

PER_LINE = {"uint64_t": 4, "int32_t": 8, "int8_t": 16, "uint8_t": 16, "bytes": 16}


def _int32(v: int) -> str:
    return "(-2147483647 - 1)" if v == -(2**31) else str(v)


def c_values(values: np.ndarray, ctype: str, indent: str = "    ") -> str:
    """Body of an array initializer, a fixed number of values per line."""
    flat = np.asarray(values).reshape(-1)
    if ctype == "uint64_t":
        items = [f"0x{v:016x}u" for v in flat.astype(np.uint64).tolist()]
    elif ctype == "int32_t":
        items = [_int32(v) for v in flat.astype(np.int64).tolist()]
    elif ctype == "bytes":
        items = [f"0x{v:02x}" for v in flat.astype(np.uint8).tolist()]
    else:
        items = [str(v) for v in flat.astype(np.int64).tolist()]
    if not items:
        return indent + "0"
    n = PER_LINE[ctype]
    lines = [", ".join(items[i:i + n]) for i in range(0, len(items), n)]
    return ",\n".join(indent + line for line in lines)


def c_float(x: float) -> str:
    """A float literal that reads back to the same float32 value."""
    if not math.isfinite(x):
        raise ValueError(f"cannot write {x} as a C float constant")
    text = f"{float(np.float32(x)):.9g}"
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


def c_comment(text: str) -> str:
    """Text safe inside a /* */ comment on one line."""
    return " ".join(str(text).replace("*/", "* /").replace("/*", "/ *").split())
