"""Whole-directory writes that never destroy a user's files.

The output is built in a sibling temporary directory, then swapped in, so a
reader (or a crash) sees either the old directory or the new one, never a
mix, and a failure while building leaves the old one untouched.

Only a directory bnnkit wrote is ever replaced: each one carries a marker
file (``MARKER``). An existing directory without it is refused unless it is
empty, so ``-o .`` or ``-o ~/thesis`` cannot wipe a user's work. The marker
lists what bnnkit wrote; whatever else is in the directory (a user's notes,
bnn-deploy's benchmark JSON) moves into the new one. A symlink to a
directory keeps being a symlink: the directory it points to is the one
replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import OutputDirError

MARKER = ".bnnkit-output"
#: What ``make`` builds in a project: bnnkit's output too, replaced with the sources.
BUILD_DIR = "build"


def is_bnnkit_output(directory: Path) -> bool:
    """True if ``directory`` holds the marker of a directory bnnkit wrote."""
    return (Path(directory) / MARKER).is_file()


def writable_target(target: str | Path) -> Path:
    """The real directory to (re)place for the user's path ``target``, or refuse.

    Commands call it before long work, so a refused ``-o`` costs nothing.
    """
    target = Path(target)
    if target.is_symlink():
        if not target.exists():
            raise OutputDirError(f"{target} is a symlink to {os.readlink(target)}, which does "
                                 f"not exist; create that directory or choose another -o")
        target = target.resolve()
    target = Path(os.path.abspath(target))
    if target.exists():
        if not target.is_dir():
            raise OutputDirError(f"{target} exists and is not a directory; choose another -o")
        if any(target.iterdir()) and not is_bnnkit_output(target):
            raise OutputDirError(f"{target} is not empty and was not written by bnnkit (no "
                                 f"{MARKER} file); choose a new or empty directory for -o")
    if target.parent == target:
        raise OutputDirError(f"{target} is a filesystem root; choose a directory for -o")
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_dir(target: str | Path, fill: Callable[[Path], None], *, kind: str) -> Path:
    """Write a directory of ``kind`` (e.g. "project", "ir") at ``target`` in one swap.

    ``fill`` writes the contents into a temporary directory; the marker is
    added here, listing what bnnkit wrote, so every directory bnnkit writes
    can later be replaced. Files a user added to it since (notes, a
    bnn-deploy benchmark JSON) are moved into the new directory, never
    deleted. Returns ``target`` as given (a symlink stays a symlink).
    """
    given = Path(target)
    real = writable_target(given)
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{real.name}.tmp-", dir=real.parent))
    except FileExistsError:
        raise OutputDirError(f"{real.parent} exists and is not a directory; "
                             f"choose another -o") from None
    except OSError as e:
        raise OutputDirError(f"cannot create {given} ({e.strerror}); choose another -o") \
            from None
    try:
        os.chmod(tmp, 0o777 & ~_umask())   # mkdtemp makes 0700; outputs follow the umask
        fill(tmp)
        names = sorted(p.name for p in tmp.iterdir())
        (tmp / MARKER).write_text(json.dumps({"written_by": "bnnkit", "kind": kind,
                                              "files": names}) + "\n")
    except OSError as e:            # disk full, quota, permissions: nothing was changed
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputDirError(f"cannot write {given} ({e.strerror or e}); it is unchanged: "
                             f"free some space or choose another -o") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not real.exists():
        tmp.rename(real)
        return given
    ours = (_written(real) or set()) | set(names) | {MARKER, BUILD_DIR}
    users = [p.name for p in real.iterdir() if p.name not in ours]
    old = Path(tempfile.mkdtemp(prefix=f".{real.name}.old-", dir=real.parent))
    old.rmdir()
    real.rename(old)
    try:
        tmp.rename(real)
    except BaseException:
        old.rename(real)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for name in users:              # interrupted here, the rest stay in `old`, not lost
        (old / name).rename(real / name)
    shutil.rmtree(old, ignore_errors=True)
    return given


def _written(directory: Path) -> set[str] | None:
    """What bnnkit wrote into ``directory``, from its marker (None: an older marker)."""
    try:
        files = json.loads((directory / MARKER).read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    return {f for f in files if isinstance(f, str)} if isinstance(files, list) else None


def write_file(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` whole or not at all: a full disk or Ctrl-C midway leaves
    the previous file (if any) as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; outputs follow the umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
