"""Progress bars for the long steps (calibration, test sets): shown only on a
terminal, each ending its own line, and never under a command's ``-q``.

Off a terminal (logs, pipes, CI) they print nothing at all, so no carriage
returns or escape codes end up in files.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_quiet = [False]


@contextlib.contextmanager
def quiet(enabled: bool = True) -> Iterator[None]:
    """No progress bars inside this block (the commands' ``-q``)."""
    before = _quiet[0]
    _quiet[0] = enabled or before
    try:
        yield
    finally:
        _quiet[0] = before


def shown() -> bool:
    return not _quiet[0] and sys.stderr.isatty()


def bar(items: Iterable[T], desc: str, unit: str, total: int | None = None) -> Iterable[T]:
    """``items``, with a bar on stderr when one is shown; the bar stays, ended by a newline."""
    if not shown():
        return items
    from tqdm import tqdm
    return tqdm(items, desc=desc, unit=unit, total=total, leave=True, file=sys.stderr,
                mininterval=0.5)
