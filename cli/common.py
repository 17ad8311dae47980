"""What every bnnkit command shares: error reporting and exit codes."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from ..errors import BnnkitError, OutputDirError


def run_main(prog: str, body: Callable[[], int]) -> int:
    """Run a command body; user errors become one line on stderr, not a traceback."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.formatwarning = lambda msg, cat, *a, **k: f"{prog}: warning: {msg}\n"
    try:
        return body()
    except BnnkitError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # disk full, permissions: nothing was half-written
        print(f"{prog}: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 6


def step(prog: str, message: str) -> None:
    print(f"{prog}: {message}", file=sys.stderr, flush=True)


def check_output_file(path: Path | None, flag: str) -> None:
    """Refuse an output file that cannot be written, before the work that produces it."""
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputDirError(f"{flag} {path} is a directory; give a file name")
    if not folder.is_dir():
        raise OutputDirError(f"{flag} {path}: no folder {folder}; create it first")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists()
                                                    and not os.access(path, os.W_OK)):
        raise OutputDirError(f"{flag} {path}: not writable here; choose another path")
