"""Versioned releases on the device, switched atomically.

Layout under ``<remote-dir>/<name>/``::

    releases/20250101T120000Z-1a2b3c4d/   one deploy: program, library, sources, IR
    releases/<id>.partial/                an upload in progress (removed by the next deploy)
    current -> releases/<id>              the deployment that runs

An upload goes into ``<id>.partial``, is checked with ``sha256sum`` on the
device, self-tested, renamed to ``<id>``, and only then does ``current``
move to it: ``ln -sfn`` to a temporary link, then ``mv -T`` over
``current`` (one rename(2), atomic). An interrupted or failed deploy leaves
the previous ``current`` working.
"""

from __future__ import annotations

import errno
import hashlib
import posixpath
import re
import shlex
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import paramiko

from .errors import RemoteCommandError, RemoteDiskFullError, RemotePathError, UnreachableError

SAFE_PATH = re.compile(r"[A-Za-z0-9._+@%,:/~-]+")
#: Room kept free beyond the upload itself (the device must keep working).
SPACE_MARGIN = 64 * 1024
#: Inodes kept free beyond the upload's files and directories.
INODE_MARGIN = 16


def validate_remote_dir(path: str) -> str:
    """The deploy directory, checked: a plain path without ``..`` or shell syntax."""
    if not path or not SAFE_PATH.fullmatch(path):
        bad = sorted({c for c in path if not SAFE_PATH.fullmatch(c)}) if path else []
        raise RemotePathError(f"--remote-dir {path!r}: use a plain path (letters, digits, "
                              f"._+@%,:/~-){'; not ' + ' '.join(map(repr, bad)) if bad else ''}")
    parts = path.split("/")
    if ".." in parts:
        raise RemotePathError(f"--remote-dir {path!r}: '..' is not allowed; give the path "
                              f"directly")
    if "~" in path and not (path == "~" or path.startswith("~/")) or "~" in path[1:]:
        raise RemotePathError(f"--remote-dir {path!r}: '~' only as the first component (~/x)")
    if path.startswith("-"):
        raise RemotePathError(f"--remote-dir {path!r} must not start with '-'")
    return path


def absolute_remote_dir(path: str, home: str) -> str:
    """``path`` made absolute on the device (relative paths and ``~`` are under home)."""
    validate_remote_dir(path)
    if path == "~":
        path = home
    elif path.startswith("~/"):
        path = posixpath.join(home, path[2:])
    elif not path.startswith("/"):
        path = posixpath.join(home, path)
    return posixpath.normpath(path)


def release_id(digest: str, now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"{stamp}-{digest[:8]}"


@dataclass(frozen=True)
class ReleaseFile:
    local: Path
    remote: str        # relative to the release directory
    mode: int
    sha256: str
    size: int


def collect_files(pairs: Sequence[tuple[Path, str]]) -> list[ReleaseFile]:
    files = []
    for local, remote in pairs:
        data = local.read_bytes()
        mode = 0o755 if local.stat().st_mode & stat.S_IXUSR else 0o644
        files.append(ReleaseFile(local, remote, mode, hashlib.sha256(data).hexdigest(),
                                 len(data)))
    return files


def release_dirs(release_dir: str, files: Sequence[ReleaseFile]) -> list[str]:
    """The directories an upload of ``files`` into ``release_dir`` creates."""
    return sorted({posixpath.dirname(posixpath.join(release_dir, f.remote)) for f in files})


def bundle_digest(files: Sequence[ReleaseFile]) -> str:
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.remote):
        h.update(f"{f.remote}\0{f.sha256}\n".encode())
    return h.hexdigest()


class RemoteApp:
    """The ``<remote-dir>/<name>`` directory of one model on one device."""

    def __init__(self, device, root: str, name: str) -> None:  # noqa: ANN001 - Device
        self.device = device
        self.root = root                       # absolute
        self.name = name
        self.dir = posixpath.join(root, name)
        self.releases = posixpath.join(self.dir, "releases")
        self.current = posixpath.join(self.dir, "current")

    def q(self, *parts: str) -> str:
        return shlex.quote(posixpath.join(*parts))

    def current_release(self) -> str | None:
        out = self.device.run(f"readlink {self.q(self.current)} || true").stdout.strip()
        return posixpath.basename(out) if out else None

    def unique_release(self, release: str) -> str:
        """``release``, or ``release-2``, ... if a release of that name exists already."""
        out = self.device.run(f"ls -1 {self.q(self.releases)} 2>/dev/null || true").stdout
        existing = set(out.split())
        candidate, n = release, 1
        while candidate in existing or candidate + ".partial" in existing:
            n += 1
            candidate = f"{release}-{n}"
        return candidate

    def remove_partials(self) -> None:
        """Remove leftovers of interrupted uploads."""
        self.device.run(f"mkdir -p {self.q(self.releases)} && "
                        f"rm -rf {self.q(self.releases)}/*.partial")

    def upload(self, release: str, files: Sequence[ReleaseFile],
               progress: Callable[[int, int], None] | None = None) -> str:
        """Upload into ``releases/<release>.partial``, verify checksums; return its path."""
        partial = posixpath.join(self.releases, release + ".partial")
        dirs = release_dirs(partial, files)
        try:
            self.device.run("mkdir -p -- " + " ".join(shlex.quote(d) for d in dirs))
        except RemoteCommandError as e:
            self._upload_failed(partial, sum(f.size for f in files), len(files) + len(dirs), e)
        total, done = sum(f.size for f in files), 0
        sftp = self.device.sftp
        for i, f in enumerate(files):
            remote = posixpath.join(partial, f.remote)
            base = done

            def callback(sent: int, _size: int, base: int = base) -> None:
                if progress is not None:
                    progress(base + sent, total)

            try:
                sftp.put(str(f.local), remote, callback=callback, confirm=True)
                sftp.chmod(remote, f.mode)
            except (OSError, EOFError, paramiko.SSHException) as e:
                self._upload_failed(partial, total - done, len(files) - i, e)
            done += f.size
        self.verify(partial, files)
        return partial

    def _upload_failed(self, partial: str, remaining: int, remaining_files: int,
                       error: BaseException) -> None:
        # SFTP reports a full disk as a bare "Failure": ask the device what is left.
        if not self.device.is_active:
            raise UnreachableError(
                f"the connection to {self.device.name} was lost during the upload ({error}); "
                f"{self.current} was not switched, the running deployment is untouched; run "
                f"the deploy again") from None
        free, inodes = self._free()
        self.device.run(f"rm -rf {shlex.quote(partial)}", check=False)
        if inodes is not None and inodes < remaining_files + INODE_MARGIN:
            raise RemoteDiskFullError(
                f"the disk of {self.device.name} ran out of inodes (room for new files) while "
                f"uploading to {self.dir} ({inodes} free, {remaining_files} files still to "
                f"send); the partial upload was removed and the running deployment is "
                f"untouched; delete some files (or choose another --remote-dir)") from None
        if getattr(error, "errno", None) == errno.ENOSPC or "No space left" in str(error) or \
                (free is not None and free < remaining + SPACE_MARGIN):
            raise RemoteDiskFullError(
                f"the disk of {self.device.name} filled up while uploading to {self.dir} "
                f"({_kib(free)} free, {_kib(remaining)} still to send); the partial upload was "
                f"removed and the running deployment is untouched; free some space (or "
                f"choose another --remote-dir)") from None
        raise RemoteCommandError(f"uploading to {partial} on {self.device.name} failed: "
                                 f"{error}; the partial upload was removed") from None

    def _free(self) -> tuple[int | None, int | None]:
        from .probe import free_space_script, parse_free_space
        try:
            return parse_free_space(self.device.run(free_space_script(self.dir),
                                                    check=False).stdout)
        except UnreachableError:
            return None, None

    def check_space(self, needed: int, free: int | None, files: int = 0,
                    free_inodes: int | None = None) -> None:
        """Refuse before uploading when ``needed`` bytes in ``files`` files do not fit."""
        if free is not None and free < needed + SPACE_MARGIN:
            raise RemoteDiskFullError(
                f"not enough space on {self.device.name} in {self.root}: the release needs "
                f"{_kib(needed + SPACE_MARGIN)}, {_kib(free)} are free; free some space (old "
                f"releases are in {self.releases}) or choose another --remote-dir")
        if free_inodes is not None and free_inodes < files + INODE_MARGIN:
            raise RemoteDiskFullError(
                f"not enough inodes (room for new files) on {self.device.name} in {self.root}: "
                f"the release needs {files + INODE_MARGIN}, {free_inodes} are free; delete "
                f"some files (old releases are in {self.releases}) or choose another "
                f"--remote-dir")

    def verify(self, partial: str, files: Sequence[ReleaseFile]) -> None:
        names = " ".join(shlex.quote(f.remote) for f in files)
        result = self.device.run(f"cd {shlex.quote(partial)} && sha256sum -- {names}",
                                 check=False)
        if result.returncode != 0:
            if "not found" in result.stderr:
                raise RemoteCommandError(f"{self.device.name} has no sha256sum to verify the "
                                         f"upload; install coreutils there")
            raise result.error(self.device.name)
        remote = {}
        for line in result.stdout.splitlines():
            digest, _, name = line.partition("  ")
            remote[name.lstrip("*")] = digest
        bad = [f.remote for f in files if remote.get(f.remote) != f.sha256]
        if bad:
            self.device.run(f"rm -rf {shlex.quote(partial)}", check=False)
            raise RemoteCommandError(f"upload to {self.device.name} is corrupt ({', '.join(bad)}"
                                     f" differ after transfer); removed it, run again")

    def finish(self, partial: str, release: str) -> str:
        """Rename the verified upload to ``releases/<release>``."""
        final = posixpath.join(self.releases, release)
        self.device.run(f"mv -T -- {shlex.quote(partial)} {shlex.quote(final)}")
        return final

    def switch(self, release: str) -> None:
        """Point ``current`` at ``releases/<release>`` with one atomic rename."""
        tmp = posixpath.join(self.dir, f".current.{release}.tmp")
        self.device.run(f"ln -sfn {shlex.quote('releases/' + release)} {shlex.quote(tmp)} && "
                        f"mv -T -- {shlex.quote(tmp)} {self.q(self.current)}")

    def prune(self, keep: int) -> list[str]:
        """Delete all but the ``keep`` newest releases (never the current one)."""
        out = self.device.run(f"ls -1 {self.q(self.releases)}").stdout.split()
        releases = sorted(r for r in out if not r.endswith(".partial"))
        current = self.current_release()
        old = [r for r in releases[:-keep] if r != current] if keep > 0 else []
        if old:
            paths = " ".join(self.q(self.releases, r) for r in old)
            self.device.run(f"rm -rf -- {paths}", check=False)
        return old


def _kib(n: int | None) -> str:
    if n is None:
        return "an unknown amount"
    return f"{n / 1024:.0f} KiB" if n < 10 * 1024 * 1024 else f"{n / 2**20:.0f} MiB"
