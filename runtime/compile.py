"""Compile a C library once into a cache, safely against concurrent runs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..errors import ToolchainError


def compile_once(command: Sequence[str], output: Path, what: str) -> Path:
    """``output``, compiled by ``command`` (a compiler and its flags and sources, without
    ``-o``) unless it already exists. It is built under a private name and renamed,
    so a concurrent run never loads half a file; a failure raises ToolchainError
    naming ``what`` with the compiler's messages."""
    if output.is_file():
        return output
    partial = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    proc = subprocess.run([*command, "-o", str(partial)], capture_output=True, text=True)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        raise ToolchainError(f"compiling {what} failed:\n{' '.join(command)}\n"
                             f"{proc.stderr.strip()}")
    os.replace(partial, output)
    return output
