"""bnnkit's C runtime: portable C99 reference kernels, NEON fast paths, a thread pool.

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



_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_MACRO = re.compile(r"^\s*#\s*(?:define|ifndef)\s+([A-Za-z_]\w*)", re.M)
_STRUCT = re.compile(r"\bstruct\s+([A-Za-z_]\w*)")
_FUNCTION = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


def reserved_prefixes() -> frozenset[str]:
    """The lower-case prefixes (up to the first ``_``) of every name the runtime's
    headers define: macros, guards, structs, functions (its sources' external
    functions are declared there too). Generated names avoid them in any case."""
    names: set[str] = set()
    for header in sorted(SOURCE_DIR.glob("*.h")):
        text = _COMMENT.sub("", header.read_text())
        names.update(_MACRO.findall(text), _STRUCT.findall(text))
        names.update(_FUNCTION.findall(_top_level(text)))
    return frozenset(name.split("_", 1)[0].lower() for name in names)


def _top_level(c_text: str) -> str:
    """C text without preprocessor lines and without what is inside braces: what is
    left are declarations and definitions' heads."""
    out, depth = [], 0
    for line in c_text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for ch in line:
            depth += (ch == "{") - (ch == "}")
            if depth == 0 and ch != "}":
                out.append(ch)
        out.append("\n")
    return "".join(out)
