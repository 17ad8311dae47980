"""bnnkit's qemu-user instruction-count plugin, built on first use and cached.

The plugin's C source ships in the package (``qemu_plugin/``) with its own
declaration of the few qemu plugin API calls it uses, so building it needs
only a C compiler: no qemu source tree, no glib. It is written for the
plugin API of qemu 7.2 (Debian 12's qemu-user; API version 1). The built
library is cached under ``$XDG_CACHE_HOME/bnnkit/qemu-plugin/`` (default
``~/.cache``), in a folder named by a hash of the sources and the compiler,
so an edited source or another compiler builds a new one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from ..errors import ToolchainError
from ..runtime.compile import compile_once

SOURCE_DIR = Path(__file__).resolve().parent / "qemu_plugin"
SOURCE = SOURCE_DIR / "bnn_insncount.c"
HEADER = SOURCE_DIR / "qemu_plugin_api.h"
LIBRARY = "libbnninsn.so"
CFLAGS = ("-std=c99", "-O2", "-shared", "-fPIC", "-Wall", "-Wextra")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bnnkit" / "qemu-plugin"


def _compiler() -> str:
    for cc in ("gcc", "cc"):
        path = shutil.which(cc)
        if path:
            return path
    raise ToolchainError("building the qemu instruction-count plugin needs a C compiler: "
                         "apt-get install gcc (or pass --plugin FILE, or skip the ARM counts "
                         "with --no-arm)")


def build_plugin(cache: Path | None = None) -> Path:
    """The plugin library, compiled into ``cache`` (default ``cache_dir()``) unless
    the same sources were already built there with the same compiler."""
    compiler = _compiler()
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout
    digest = hashlib.sha256()
    for part in (SOURCE.read_bytes(), HEADER.read_bytes(), version.encode(),
                 " ".join(CFLAGS).encode()):
        digest.update(part)
    folder = (cache or cache_dir()) / digest.hexdigest()[:16]
    library = folder / LIBRARY
    if library.is_file():
        return library
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ToolchainError(f"cannot create the plugin cache {folder}: {e.strerror}; set "
                             f"XDG_CACHE_HOME to a writable directory or pass --plugin FILE")\
            from None
    return compile_once([compiler, *CFLAGS, f"-I{SOURCE_DIR}", str(SOURCE)], library,
                        f"the qemu instruction-count plugin from {SOURCE}")

