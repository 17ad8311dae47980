"""What every bnnkit command shares: error reporting and exit codes."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable

from ..errors import BnnkitError


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
