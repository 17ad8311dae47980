"""bnnkit's C runtime: portable C99 reference kernels and NEON fast paths.

The C sources ship as package data; codegen vendors them into every
generated project, and tests build them into a host shared library.
"""

from __future__ import annotations

import re
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent
HEADER = SOURCE_DIR / "bnn_runtime.h"


def sources() -> list[Path]:
    """Every C file of the runtime, in a stable order."""
    return sorted(SOURCE_DIR.glob("*.c"))


def cdef(header: Path = HEADER) -> str:
    """The header as cffi ``cdef`` text: preprocessor lines removed (cffi
    strips the comments itself)."""
    text = header.read_text()
    text = re.sub(r"\\\n", "", text)  # join continued #define lines first
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
