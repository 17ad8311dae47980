"""Raspberry Pi stand-ins for the deploy tests: real OpenSSH servers, real ARM userlands.

* :func:`binfmt_handlers`  registers qemu-user-static with binfmt_misc (F flag)
  for aarch64 and arm when no such handler exists, and unregisters exactly
  those at the end, so static ARM programs run transparently over SSH.
* :class:`SshServer` runs ``/usr/sbin/sshd -D -e`` on 127.0.0.1 and a free
  port with temporary host and user keys (optionally ``ChrootDirectory``, or
  password accounts that exist only in sshd's own mount namespace).
* :func:`standin_root` unpacks the cached arm64/armhf Debian bookworm
  userland (``tools/build_standin.sh`` builds the cache, once per machine:
  armhf ~4-7 min, arm64 with OpenCV ~14 min) to
  ``/var/lib/bnnkit-standins/ARCH`` for sshd's ChrootDirectory
  (sshd wants every path component root-owned and not writable by others,
  which rules out /tmp).

Needs root, openssh-server and qemu-user-static; tests skip with the reason
otherwise. Nothing here replaces or patches product code.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .tooling import unavailable

REPO = Path(__file__).resolve().parent.parent
SSHD = "/usr/sbin/sshd"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
STANDIN_ROOTS = Path("/var/lib/bnnkit-standins")
QEMU = {"aarch64": "arm64", "arm": "armhf"}           # qemu name -> Debian arch


def need_root_sshd() -> None:
    if os.geteuid() != 0:
        unavailable("deploy stand-ins need root (sshd as root, binfmt_misc, chroot)")
    if not Path(SSHD).is_file():
        unavailable("openssh-server is not installed (apt-get install openssh-server)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path, kind: str = "ed25519", passphrase: str = "") -> Path:
    args = ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-f", str(path), "-C", path.name]
    if kind == "rsa":
        args += ["-b", "2048"]
    subprocess.run(args, check=True)
    return path


# -- binfmt_misc ----------------------------------------------------------------------


def _binfmt_entries() -> dict[str, str]:
    return {p.name: p.read_text() for p in BINFMT.iterdir()
            if p.name not in ("register", "status") and p.is_file()}


def _has_f_handler(qemu: str, magic: str) -> bool:
    for text in _binfmt_entries().values():
        fields = dict(line.split(" ", 1) for line in text.splitlines()[1:] if " " in line)
        if text.startswith("enabled") and fields.get("magic", "").strip() == magic \
                and "F" in fields.get("flags:", ""):
            return True
    return False


def _magic_mask(qemu: str) -> tuple[str, str]:
    fields = dict(line.split(None, 1) for line in
                  Path(f"/usr/share/binfmts/qemu-{qemu}").read_text().splitlines()
                  if " " in line)
    return fields["magic"].strip(), fields["mask"].strip()


#: How many processes (pytest-xdist workers) are inside binfmt_handlers(): the
#: last one out removes the handlers the tests registered, so that one worker's
#: teardown never takes them from another's running chroot.
HOLDERS = Path(tempfile.gettempdir()) / "bnnkit-binfmt-holders"


@contextlib.contextmanager
def _holders(change: int) -> Iterator[int]:
    """Add change to the holder count under a lock; yields the new count."""
    with open(f"{HOLDERS}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        count = max(0, int(HOLDERS.read_text() or 0) if HOLDERS.exists() else 0) + change
        HOLDERS.write_text(str(count))
        yield count


@contextlib.contextmanager
def binfmt_handlers() -> Iterator[list[str]]:
    """Make static aarch64/arm programs run (also in chroots); undo only our changes."""
    if not BINFMT.joinpath("register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], check=True)
    ours = []
    if not all(Path(f"/usr/bin/qemu-{qemu}-static").is_file() for qemu in QEMU):
        unavailable("qemu-user-static is not installed (apt-get install qemu-user-static)")
    with _holders(+1):
        for qemu in QEMU:
            interpreter = Path(f"/usr/bin/qemu-{qemu}-static")
            magic, mask = _magic_mask(qemu)
            as_hex = magic.replace("\\x", "")
            name = f"bnnkit-test-{qemu}"
            if (BINFMT / name).exists() or _has_f_handler(qemu, as_hex):
                continue
            (BINFMT / "register").write_text(f":{name}:M::{magic}:{mask}:{interpreter}:F")
            ours.append(name)
    try:
        yield ours
    finally:
        with _holders(-1) as left:
            for qemu in QEMU if left == 0 else ():
                with contextlib.suppress(OSError):
                    (BINFMT / f"bnnkit-test-{qemu}").write_text("-1")


# -- sshd -----------------------------------------------------------------------------


class SshServer:
    """``sshd -D -e`` on 127.0.0.1:PORT with its own host key and authorized keys."""

    def __init__(self, workdir: Path, authorized: list[Path], *, chroot: Path | None = None,
                 host_key_type: str = "ed25519", extra: str = "",
                 passwords: dict[str, str] | None = None) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = 0                                   # picked by start()
        self.chroot = chroot
        self.host_key = keygen(self.dir / f"host_{host_key_type}", host_key_type)
        (self.dir / "authorized_keys").write_text(
            "".join(Path(f"{k}.pub").read_text() for k in authorized))
        self.passwords = passwords or {}
        lines = ["ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
                 f"PidFile {self.dir / 'sshd.pid'}",
                 f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
                 f"PasswordAuthentication {'yes' if self.passwords else 'no'}",
                 "KbdInteractiveAuthentication no",
                 "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no",
                 "Subsystem sftp internal-sftp", "MaxSessions 64", "MaxStartups 64",
                 "LogLevel VERBOSE"]
        if chroot is not None:
            lines.append(f"ChrootDirectory {chroot}")
        self.settings = "\n".join(lines) + "\n" + extra
        self.config = self.dir / "sshd_config"
        self.log = self.dir / "sshd.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> SshServer:
        """Start sshd on a free port, and return once it answers there.

        sshd cannot be handed a bound socket, so the port is picked first and
        bound by sshd later: another process (a test worker, any client's
        ephemeral port) may take it in between. Then sshd fails to bind, or
        a server that is not ours would answer; so the server is ready only
        when sshd's own log says it listens on the port, and a port taken
        meanwhile is replaced by another.
        """
        Path("/run/sshd").mkdir(exist_ok=True)
        for _ in range(20):
            self.port = free_port()
            if self._start_on_port():
                return self
        raise RuntimeError(f"sshd found no free port in 20 tries: {self.log.read_text()}")

    def _start_on_port(self) -> bool:
        """Whether sshd listens on ``self.port`` (False: another process took the port)."""
        self.config.write_text(f"Port {self.port}\n{self.settings}")
        check = subprocess.run([SSHD, "-t", "-f", str(self.config)], capture_output=True,
                               text=True)
        if check.returncode != 0:
            raise RuntimeError(f"sshd rejects its config: {check.stderr}")
        command = [SSHD, "-D", "-e", "-f", str(self.config)]
        if self.passwords:
            command = self._with_accounts(command)
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        listening = f"Server listening on 127.0.0.1 port {self.port}."
        deadline = time.monotonic() + 60         # generous: the machine may be loaded
        while time.monotonic() < deadline:
            if listening in self.log.read_text():
                with contextlib.suppress(OSError), \
                        socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        return True
            if self.proc.poll() is not None:
                self.proc = None
                if "Address already in use" in self.log.read_text():
                    return False
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not start: {self.log.read_text()}")

    def _with_accounts(self, command: list[str]) -> list[str]:
        """Run sshd in a private mount namespace whose /etc/passwd and /etc/shadow
        add the password accounts (uid 4200 up, home /), so the test logs in
        with a password through OpenSSH's own check without touching this
        machine's users."""
        passwd = Path("/etc/passwd").read_text()
        shadow = Path("/etc/shadow").read_text()
        for i, (user, password) in enumerate(self.passwords.items()):
            hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password,
                                    capture_output=True, text=True, check=True).stdout.strip()
            passwd += f"{user}:x:{4200 + i}:{4200 + i}:bnnkit test:/:/bin/sh\n"
            shadow += f"{user}:{hashed}:19000:0:99999:7:::\n"
        for name, text in (("passwd", passwd), ("shadow", shadow)):
            (self.dir / name).write_text(text)
        (self.dir / "shadow").chmod(0o600)
        binds = " && ".join(f"mount --bind {self.dir / name} /etc/{name}"
                            for name in ("passwd", "shadow"))
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f'{binds} && exec "$@"', "sshd", *command]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def public_host_key(self) -> str:
        kind, blob = Path(f"{self.host_key}.pub").read_text().split()[:2]
        return f"{kind} {blob}"

    @property
    def host_key_name(self) -> str:
        return f"[127.0.0.1]:{self.port}"

    def known_hosts_line(self) -> str:
        return f"{self.host_key_name} {self.public_host_key}\n"

    def fingerprint(self) -> str:
        out = subprocess.run(["ssh-keygen", "-lf", f"{self.host_key}.pub"], check=True,
                             capture_output=True, text=True).stdout
        return out.split()[1]

    def local_path(self, remote: str) -> Path:
        """Where a remote absolute path lives on this machine."""
        return Path(remote) if self.chroot is None else self.chroot / remote.lstrip("/")

    def __enter__(self) -> SshServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- ARM userlands -------------------------------------------------------------------


def standin_tarball(arch: str) -> Path:
    """The cached tarball of ``arch``; its name hashes the package list (the script says)."""
    out = subprocess.run([str(REPO / "tools" / "build_standin.sh"), arch, "--print-tarball"],
                         check=True, capture_output=True, text=True).stdout
    return Path(out.strip())


def build_standin(arch: str) -> Path:
    """Build the cached userland with tools/build_standin.sh (minutes; once per machine)."""
    script = REPO / "tools" / "build_standin.sh"
    proc = subprocess.run([str(script), arch], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        pytest.fail(f"{script} {arch} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return standin_tarball(arch)


def standin_root(arch: str) -> Path:
    """The unpacked userland of ``arch`` (arm64 or armhf), ready for ChrootDirectory."""
    if os.environ.get("BNNKIT_SKIP_STANDINS"):
        pytest.skip("BNNKIT_SKIP_STANDINS is set: no debootstrap'ed ARM userlands")
    tarball = standin_tarball(arch)
    if shutil.which("debootstrap"):
        build_standin(arch)     # returns at once if cached; waits for a build under way
    elif not tarball.is_file():
        unavailable("no cached stand-in userland and no debootstrap to build one")
    root = STANDIN_ROOTS / arch
    stamp = root / ".bnnkit-standin"
    tag = f"{tarball.stat().st_size}-{tarball.stat().st_mtime_ns}"
    STANDIN_ROOTS.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(STANDIN_ROOTS, 0o755)
    # Test workers (and other test runs) unpack the same root: one at a time, so
    # that none removes a root another has just unpacked and runs sshd in.
    with open(STANDIN_ROOTS / f".{arch}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text() == tag:
            return root
        tmp = Path(tempfile.mkdtemp(prefix=f".{arch}-", dir=STANDIN_ROOTS))
        subprocess.run(["tar", "-C", str(tmp), "--numeric-owner", "-xzf", str(tarball)],
                       check=True)
        os.chmod(tmp, 0o755)
        (tmp / ".bnnkit-standin").write_text(tag)
        if root.exists():
            shutil.rmtree(root)
        tmp.rename(root)
    return root


@contextlib.contextmanager
def tmpfs(path: Path, size: str, inodes: int | None = None) -> Iterator[Path]:
    """A small tmpfs at ``path`` (to fill a remote disk for real), with ``inodes``
    inodes if given (to run out of them for real)."""
    path.mkdir(parents=True, exist_ok=True)
    limit = f",nr_inodes={inodes}" if inodes else ""
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755{limit}", "tmpfs",
                    str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


# -- a small model ------------------------------------------------------------------

_PROJECTS: dict[str, Path] = {}


def digits_project(workdir: Path) -> Path:
    """The bundled digits BNN exported like ``bnn-export`` (host build included).

    Exported once per test process (torch.export takes ~20 s) and copied.
    """
    if "digits" not in _PROJECTS:
        from bnnkit.codegen import build, write_project
        from bnnkit.export.pipeline import export

        base = Path(tempfile.mkdtemp(prefix="bnnkit-deploy-project-"))
        atexit.register(shutil.rmtree, base, True)
        graph = export(REPO / "examples" / "digits_bnn.pt")
        out = base / "digits_bnn"
        write_project(graph, out, target="host", name="digits_bnn",
                      command_line="bnn-export examples/digits_bnn.pt")
        build(out, "host")
        _PROJECTS["digits"] = out
    dest = workdir / "digits_bnn"
    shutil.copytree(_PROJECTS["digits"], dest, symlinks=True)
    return dest
