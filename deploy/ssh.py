"""An SSH connection to a device, made the way ``ssh`` makes it, with paramiko.

``Device.connect("pi@raspberrypi")`` reads ``~/.ssh/config`` (Host aliases,
HostName, User, Port, IdentityFile, IdentitiesOnly, UserKnownHostsFile,
StrictHostKeyChecking, ConnectTimeout, ProxyCommand), checks the host key
against known_hosts (unknown hosts are refused with their SHA256 fingerprint
unless ``accept_new_host_key``; a changed key is always refused), then
authenticates with ssh-agent keys, the given and default key files
(passphrase prompt when a key is encrypted and stdin is a terminal) and,
interactively, a password.

``device.run(cmd)`` runs a command and collects its output;
``device.start(cmd)`` returns a :class:`RemoteProcess` that streams output
line by line and stops the whole remote process group on ``stop()`` (or on
leaving its ``with`` block, e.g. after Ctrl-C). Every remote command runs
under ``sh``; lists are quoted with ``shlex.join``.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shlex
import socket
import sys
import time
import weakref
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from .errors import (
    AuthenticationError,
    ChangedHostKeyError,
    DeployError,
    RemoteCommandError,
    RemoteTimeoutError,
    UnknownHostKeyError,
    UnreachableError,
)

DEFAULT_IDENTITIES = ("id_ed25519", "id_ecdsa", "id_rsa")
ACCEPT_FLAG = "--accept-new-host-key"


def _home() -> Path:
    return Path(os.path.expanduser("~"))


def _short(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(_home()))
    except ValueError:
        return str(path)


# -- where and how to connect ---------------------------------------------------------


@dataclass(frozen=True)
class SSHTarget:
    """A destination resolved through ssh_config: what ``ssh -G`` would print."""

    alias: str                     # what the user typed (a Host alias or a name)
    hostname: str                  # where to connect
    port: int
    user: str
    identity_files: tuple[Path, ...] = ()
    identities_only: bool = False
    known_hosts: tuple[Path, ...] = ()
    accept_new: bool = False
    connect_timeout: float | None = None
    proxy_command: str | None = None

    @property
    def host_key_name(self) -> str:
        """The name of the host in known_hosts (``[host]:port`` off port 22)."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    def ssh_command(self) -> str:
        """The ``ssh`` command line that reaches the same device."""
        port = "" if self.port == 22 else f"-p {self.port} "
        return f"ssh {port}{self.user}@{self.alias}"

    def __str__(self) -> str:
        port = "" if self.port == 22 else f":{self.port}"
        return f"{self.user}@{self.alias}{port}"


def resolve_target(destination: str, *, port: int | None = None, user: str | None = None,
                   identity_files: Sequence[str | Path] = (),
                   known_hosts: str | Path | None = None, accept_new_host_key: bool = False,
                   ssh_config: str | Path | None = None) -> SSHTarget:
    """Combine ``[user@]host``, explicit options and ssh_config, explicit options first."""
    if "@" in destination:
        dest_user, _, alias = destination.rpartition("@")
        user = user or dest_user
    else:
        alias = destination
    if alias.startswith("[") and alias.endswith("]"):
        alias = alias[1:-1]
    if not alias or any(c.isspace() for c in alias) or alias.startswith("-"):
        raise UnreachableError(f"{destination!r} is not a host; write [user@]host")
    config_path = Path(ssh_config).expanduser() if ssh_config else _home() / ".ssh" / "config"
    options: dict = {}
    if config_path.is_file():
        try:
            options = dict(paramiko.SSHConfig.from_path(str(config_path)).lookup(alias))
        except (OSError, ValueError, paramiko.ssh_exception.ConfigParseError) as e:
            # ValueError: a binary file (UnicodeDecodeError) is no config either
            raise UnreachableError(f"cannot read ssh config {config_path}: {e}") from None
    elif ssh_config:
        raise UnreachableError(f"ssh config {config_path} does not exist")

    def as_port(text: object) -> int:
        try:
            value = int(str(text))
        except ValueError:
            value = -1
        if not 0 < value < 65536:
            raise UnreachableError(f"port {text!r} is not a TCP port number")
        return value

    keys = [Path(p).expanduser() for p in identity_files]
    keys += [Path(p).expanduser() for p in options.get("identityfile", [])]
    if known_hosts is not None:
        known = (Path(known_hosts).expanduser(),)
    elif options.get("userknownhostsfile"):
        known = tuple(Path(p).expanduser() for p in options["userknownhostsfile"].split())
    else:
        known = (_home() / ".ssh" / "known_hosts",)
    if options.get("proxyjump", "none") != "none":
        raise UnreachableError(f"{alias}: ProxyJump in {config_path} is not supported; write "
                               f"it as ProxyCommand ssh -W %h:%p {options['proxyjump']}")
    strict = str(options.get("stricthostkeychecking", "ask")).lower()
    timeout = options.get("connecttimeout")
    if timeout and not str(timeout).isdigit():
        raise UnreachableError(f"ConnectTimeout {timeout!r} in {config_path} is not a whole "
                               f"number of seconds")
    proxy = options.get("proxycommand")
    return SSHTarget(
        alias=alias,
        hostname=options.get("hostname", alias),
        port=as_port(port if port is not None else options.get("port", 22)),
        user=user or options.get("user") or getpass.getuser(),
        identity_files=tuple(dict.fromkeys(keys)),
        identities_only=str(options.get("identitiesonly", "no")).lower() == "yes",
        known_hosts=known,
        accept_new=accept_new_host_key or strict in ("accept-new", "no", "off"),
        connect_timeout=float(timeout) if timeout else None,
        proxy_command=None if proxy in (None, "none") else proxy,
    )


# -- host keys ------------------------------------------------------------------------


def _load_known_hosts(paths: Sequence[Path]) -> paramiko.HostKeys:
    keys = paramiko.HostKeys()
    for path in [*paths, Path("/etc/ssh/ssh_known_hosts")]:
        if path.is_file():
            try:
                keys.load(str(path))
            except (OSError, ValueError, paramiko.SSHException) as e:
                raise ChangedHostKeyError(f"cannot read known_hosts file {path}: {e}") \
                    from None
    return keys


def _prefer_known_key_type(transport: paramiko.Transport, known: Mapping | None) -> None:
    """Ask for the key type known_hosts has, so a server with several keys shows that one."""
    if not known:
        return
    keytype = list(known.keys())[0]
    options = transport.get_security_options()
    if keytype == "ssh-rsa":
        keytype = next((t for t in ("rsa-sha2-512", "rsa-sha2-256") if t in options.key_types),
                       keytype)
    if keytype in options.key_types:
        options.key_types = [keytype] + [t for t in options.key_types if t != keytype]


def record_host_key(path: Path, host_key_name: str, key: paramiko.PKey) -> None:
    """Append ``key`` for ``host_key_name`` to a known_hosts file, as ssh does."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = paramiko.hostkeys.HostKeyEntry([host_key_name], key).to_line()
    needs_newline = path.is_file() and path.stat().st_size > 0 and \
        not path.read_bytes().endswith(b"\n")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as f:
        f.write(("\n" if needs_newline else "") + line)


def check_host_key(target: SSHTarget, key: paramiko.PKey, known: paramiko.HostKeys,
                   warn: callable = None) -> None:  # type: ignore[valid-type]
    """Raise unless ``key`` is the known key of the target (or may be recorded as new)."""
    entry = known.lookup(target.host_key_name)
    offered = f"{key.get_name()} {key.fingerprint}"
    where = _short(target.known_hosts[0])
    if entry:
        ours = entry.get(key.get_name())
        if ours is not None and ours == key:
            return
        ours = ours or list(entry.values())[0]
        raise ChangedHostKeyError(
            f"HOST KEY CHANGED for {target.host_key_name}: known_hosts has {ours.get_name()} "
            f"{ours.fingerprint}, the server now offers {offered}. Refusing to connect: this "
            f"may be an attack, or the device was reinstalled. If you know it was, remove the "
            f"old key (ssh-keygen -R '{target.host_key_name}' -f {where}) and connect again "
            f"with {ACCEPT_FLAG}")
    if not target.accept_new:
        raise UnknownHostKeyError(
            f"host {target.host_key_name} is not in {where}; it offers {offered}. If that "
            f"matches the device (there: ssh-keygen -lf /etc/ssh/ssh_host_{_key_file(key)}"
            f"_key.pub), run again with {ACCEPT_FLAG} to trust and record it",
            host=target.host_key_name, key_type=key.get_name(), fingerprint=key.fingerprint)
    record_host_key(target.known_hosts[0], target.host_key_name, key)
    if warn is not None:
        warn(f"recorded new host key {offered} for {target.host_key_name} in {where}")


def _key_file(key: paramiko.PKey) -> str:
    name = key.get_name()
    return "ed25519" if "ed25519" in name else "ecdsa" if "ecdsa" in name else "rsa"


# -- authentication -------------------------------------------------------------------


@dataclass
class _AuthLog:
    tried: list[str] = field(default_factory=list)
    allowed: list[str] | None = None
    notes: list[str] = field(default_factory=list)


def _try_key(transport: paramiko.Transport, user: str, key: paramiko.PKey, label: str,
             log: _AuthLog) -> bool:
    log.tried.append(label)
    try:
        transport.auth_publickey(user, key)
    except paramiko.BadAuthenticationType as e:
        log.allowed = list(e.allowed_types)
        return False
    except paramiko.AuthenticationException:
        return False
    return transport.is_authenticated()


def _load_key(path: Path, interactive: bool, log: _AuthLog) -> paramiko.PKey | None:
    try:
        return paramiko.PKey.from_path(path)
    except paramiko.PasswordRequiredException:
        pass
    except TypeError as e:  # cryptography: "Key is password-protected, but password .."
        if "password" not in str(e):
            raise
    except (OSError, ValueError, paramiko.SSHException) as e:
        log.notes.append(f"{_short(path)} unreadable ({e})")
        return None
    if not interactive:
        log.notes.append(f"{_short(path)} is encrypted (no terminal to ask its passphrase; "
                         f"add it to ssh-agent)")
        return None
    for _ in range(3):
        passphrase = getpass.getpass(f"Enter passphrase for key '{path}': ")
        if not passphrase:
            break
        try:
            return paramiko.PKey.from_path(path, passphrase.encode())
        except (paramiko.SSHException, ValueError, TypeError):
            print("Bad passphrase, try again.", file=sys.stderr)
    log.notes.append(f"{_short(path)}: no passphrase")
    return None


def _authenticate(transport: paramiko.Transport, target: SSHTarget, *,
                  password: str | None, interactive: bool, allow_agent: bool) -> None:
    user, log = target.user, _AuthLog()
    try:                                    # what the server accepts, as ssh asks first
        transport.auth_none(user)
        if transport.is_authenticated():
            return
    except paramiko.BadAuthenticationType as e:
        log.allowed = list(e.allowed_types)
    except paramiko.AuthenticationException:
        pass
    if password is None and allow_agent and not target.identities_only:
        try:
            agent_keys = paramiko.Agent().get_keys()
        except paramiko.SSHException:
            agent_keys = ()
        for i, key in enumerate(agent_keys):
            if _try_key(transport, user, key, f"ssh-agent key {i + 1}", log):
                return
    paths = list(target.identity_files)
    if not target.identities_only:
        paths += [_home() / ".ssh" / n for n in DEFAULT_IDENTITIES]
    for path in dict.fromkeys(paths):
        if path.is_file() and (log.allowed is None or "publickey" in log.allowed):
            key = _load_key(path, interactive, log)
            if key is not None and _try_key(transport, user, key, _short(path), log):
                return
    if (password is not None or interactive) and \
            (log.allowed is None or "password" in log.allowed):
        for _ in range(1 if password is not None else 3):
            secret = password if password is not None else \
                getpass.getpass(f"{target.user}@{target.hostname}'s password: ")
            log.tried.append("password")
            try:
                transport.auth_password(user, secret)
                if transport.is_authenticated():
                    return
            except paramiko.BadAuthenticationType as e:
                log.allowed = list(e.allowed_types)
                break
            except paramiko.AuthenticationException:
                pass
    tried = ", ".join(dict.fromkeys(log.tried)) or "nothing (no agent, no key files)"
    allowed = f"; the server accepts: {', '.join(log.allowed)}" if log.allowed else ""
    notes = f" ({'; '.join(log.notes)})" if log.notes else ""
    port = f" -p {target.port}" if target.port != 22 else ""
    advice = (f"Install your public key there (ssh-copy-id{port} "
              f"{target.user}@{target.hostname}) or pass the right one with -i KEY")
    if "password" in log.tried:
        advice = f"Check the password. {advice}"
    raise AuthenticationError(
        f"permission denied for {target.user}@{target.hostname}{port}: tried {tried}"
        f"{allowed}{notes}. {advice}")


# -- the connection -------------------------------------------------------------------


def _is_timeout(error: BaseException) -> bool:
    """Whether a handshake failure is a timeout, however paramiko wrapped it.

    paramiko's own thread times out reading the banner and re-raises the
    ``socket.timeout`` as an SSHException with no word of it in the text;
    which of its timer and ours fires first depends on the machine's load.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, TimeoutError) or "timeout" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _open_socket(target: SSHTarget, timeout: float) -> socket.socket | paramiko.ProxyCommand:
    where = f"{target.hostname}:{target.port}"
    if target.proxy_command:
        return paramiko.ProxyCommand(target.proxy_command)
    try:
        return socket.create_connection((target.hostname, target.port), timeout=timeout)
    except socket.gaierror as e:
        raise UnreachableError(f"cannot resolve host {target.hostname!r} ({e.strerror}); "
                               f"check the name, or add a Host entry to ~/.ssh/config") from None
    except TimeoutError:
        raise RemoteTimeoutError(f"connecting to {where} timed out after {timeout:g} s; is the "
                                 f"device on and on this network? (--timeout S waits longer)") \
            from None
    except ConnectionRefusedError:
        raise UnreachableError(f"{where} refused the connection; is the SSH server running "
                               f"there (on a Pi: sudo systemctl enable --now ssh) and is the "
                               f"port right?") from None
    except OSError as e:
        raise UnreachableError(f"cannot reach {where}: {e.strerror or e}") from None


class Device:
    """An authenticated SSH connection to one device."""

    def __init__(self, transport: paramiko.Transport, target: SSHTarget, *,
                 timeout: float = 30.0) -> None:
        self.transport = transport
        self.target = target
        self.timeout = timeout
        self._sftp: paramiko.SFTPClient | None = None
        self._home: str | None = None
        self._processes: weakref.WeakSet[RemoteProcess] = weakref.WeakSet()

    @classmethod
    def connect(cls, destination: str, *, port: int | None = None, user: str | None = None,
                key_files: Sequence[str | Path] = (), known_hosts: str | Path | None = None,
                accept_new_host_key: bool = False, ssh_config: str | Path | None = None,
                timeout: float = 15.0, password: str | None = None,
                interactive: bool | None = None, allow_agent: bool = True,
                warn: callable = None) -> Device:  # type: ignore[valid-type]
        """Connect and authenticate like ``ssh [-p PORT] [-i KEY] [user@]host``.

        ``interactive`` (default: stdin is a terminal) allows passphrase and
        password prompts. ``timeout`` bounds the TCP connect, the SSH
        handshake, authentication and, later, each remote command (unless a
        command passes its own).
        """
        target = resolve_target(destination, port=port, user=user, identity_files=key_files,
                                known_hosts=known_hosts, accept_new_host_key=accept_new_host_key,
                                ssh_config=ssh_config)
        if interactive is None:
            interactive = sys.stdin is not None and sys.stdin.isatty()
        connect_timeout = target.connect_timeout or timeout
        known = _load_known_hosts(target.known_hosts)
        sock = _open_socket(target, connect_timeout)
        transport = paramiko.Transport(sock)
        transport.banner_timeout = connect_timeout
        transport.auth_timeout = connect_timeout
        try:
            _prefer_known_key_type(transport, known.lookup(target.host_key_name))
            try:
                transport.start_client(timeout=connect_timeout)
            except (paramiko.SSHException, EOFError, OSError) as e:
                text = str(e) or type(e).__name__
                if _is_timeout(e):
                    raise RemoteTimeoutError(f"SSH handshake with {target.hostname}:"
                                             f"{target.port} timed out after "
                                             f"{connect_timeout:g} s") from None
                raise UnreachableError(f"{target.hostname}:{target.port} does not answer as an "
                                       f"SSH server ({text})") from None
            if not (transport.is_active() and transport.initial_kex_done):
                raise RemoteTimeoutError(f"SSH handshake with {target.hostname}:{target.port} "
                                         f"did not complete within {connect_timeout:g} s")
            check_host_key(target, transport.get_remote_server_key(), known, warn)
            _authenticate(transport, target, password=password, interactive=interactive,
                          allow_agent=allow_agent)
        except BaseException:
            transport.close()
            raise
        transport.set_keepalive(15)
        return cls(transport, target, timeout=timeout)

    # -- plumbing --

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the remote processes started here that still run, then disconnect."""
        for proc in list(self._processes):
            if proc.returncode is None and self.transport.is_active():
                with contextlib.suppress(DeployError):
                    proc.stop(grace=1.0)
        if self._sftp is not None:
            try:
                self._sftp.close()
            except (OSError, EOFError, paramiko.SSHException):
                pass
            self._sftp = None
        self.transport.close()

    @property
    def name(self) -> str:
        return str(self.target)

    @property
    def is_active(self) -> bool:
        return self.transport.is_active()

    def _check_alive(self) -> None:
        if not self.transport.is_active():
            raise UnreachableError(f"the connection to {self.name} was lost")

    @property
    def sftp(self) -> paramiko.SFTPClient:
        """The SFTP session (opened on first use)."""
        self._check_alive()
        if self._sftp is None:
            try:
                self._sftp = paramiko.SFTPClient.from_transport(self.transport)
            except (paramiko.SSHException, EOFError, OSError) as e:
                raise UnreachableError(f"{self.name} refused an SFTP session ({e}); enable "
                                       f"'Subsystem sftp' in its sshd_config") from None
            assert self._sftp is not None
            self._sftp.get_channel().settimeout(self.timeout)
        return self._sftp

    @property
    def home(self) -> str:
        """The remote user's home directory (absolute, as the remote shell sees it)."""
        if self._home is None:
            home = self.run('printf "%s" "$HOME"').stdout.strip()
            self._home = home if home.startswith("/") else self.sftp.normalize(".")
        return self._home

    # -- commands --

    def start(self, command: str | Sequence[str], *,
              env: Mapping[str, str] | None = None, cwd: str | None = None) -> RemoteProcess:
        """Start ``command`` (a shell string, or a list quoted for you); stream its output."""
        self._check_alive()
        text = command if isinstance(command, str) else shlex.join(command)
        prefix = "".join(f"export {k}={shlex.quote(str(v))}; " for k, v in (env or {}).items())
        if cwd is not None:
            prefix += f"cd {shlex.quote(cwd)} && "
        wrapped = f"echo \"bnnkit-pid $$\"; exec sh -c {shlex.quote(prefix + text)}"
        try:
            channel = self.transport.open_session(timeout=self.timeout)
            channel.exec_command(wrapped)
        except (paramiko.SSHException, EOFError, OSError) as e:
            raise UnreachableError(f"cannot start a command on {self.name}: {e}") from None
        proc = RemoteProcess(self, channel, text)
        self._processes.add(proc)
        return proc

    def run(self, command: str | Sequence[str], *, timeout: float | None = None,
            check: bool = True, env: Mapping[str, str] | None = None,
            cwd: str | None = None) -> CompletedCommand:
        """Run ``command`` to completion; with ``check``, a non-zero exit raises.

        A timeout or Ctrl-C stops the remote process group before raising.
        """
        with self.start(command, env=env, cwd=cwd) as proc:
            result = proc.communicate(timeout=self.timeout if timeout is None else timeout)
        if check and result.returncode != 0:
            raise result.error(self.name)
        return result

    def probe(self, remote_dir: str | None = None):  # noqa: ANN201 - DeviceInfo
        """What the device is: see :func:`bnnkit.deploy.probe.probe`."""
        from .probe import probe
        return probe(self, remote_dir)


@dataclass(frozen=True)
class CompletedCommand:
    command: str
    returncode: int
    stdout: str
    stderr: str

    def error(self, where: str) -> RemoteCommandError:
        last = (self.stderr.strip() or self.stdout.strip()).splitlines()[-3:]
        detail = " | ".join(line.strip() for line in last) or "no output"
        status = f"exit status {self.returncode}" if self.returncode >= 0 else "killed"
        return RemoteCommandError(f"on {where}, `{_clip(self.command)}` failed ({status}): "
                                  f"{detail}", command=self.command,
                                  returncode=self.returncode, stdout=self.stdout,
                                  stderr=self.stderr)


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


class RemoteProcess:
    """A command running on the device: streamed output, exit status, clean stop.

    Use it as a context manager: leaving the block (normally, on an error or
    on Ctrl-C) stops the remote process group if it still runs::

        with device.start(["./demo", "--camera"]) as proc:
            for stream, line in proc.lines():
                print(stream, line)
    """

    POLL = 0.01

    def __init__(self, device: Device, channel: paramiko.Channel, command: str) -> None:
        self.device = device
        self.command = command
        self.channel = channel
        self.pid: int | None = None
        self.returncode: int | None = None
        self._buf = {"stdout": bytearray(), "stderr": bytearray()}
        self._lines: deque[tuple[str, str]] = deque()
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._keep_lines = True
        deadline = time.monotonic() + device.timeout
        while self.pid is None and not self._finished() and time.monotonic() < deadline:
            if not self._receive():             # the first line is the process group id
                self._lost()
                time.sleep(self.POLL)

    # -- reading --

    def _receive(self) -> bool:
        """Move available data into the buffers; True if anything arrived."""
        got = False
        try:
            while self.channel.recv_ready():
                self._feed("stdout", self.channel.recv(65536))
                got = True
            while self.channel.recv_stderr_ready():
                self._feed("stderr", self.channel.recv_stderr(65536))
                got = True
        except (OSError, EOFError, paramiko.SSHException):
            self._lost()
        return got

    def _feed(self, stream: str, data: bytes) -> None:
        if stream == "stdout" and self.pid is None:
            head = self._buf["stdout"] + data
            newline = head.find(b"\n")
            if newline < 0:
                self._buf["stdout"] = head
                return
            first = head[:newline].decode(errors="replace")
            if first.startswith("bnnkit-pid "):
                self.pid = int(first.split()[1])
            data = bytes(head[newline + 1:])
            self._buf["stdout"] = bytearray()
        (self._out if stream == "stdout" else self._err).append(data)
        if not self._keep_lines:
            return
        buf = self._buf[stream]
        buf += data
        *complete, rest = buf.split(b"\n")
        for line in complete:
            self._lines.append((stream, line.decode(errors="replace").rstrip("\r")))
        self._buf[stream] = bytearray(rest)

    def _finished(self) -> bool:
        if self.returncode is None and self.channel.exit_status_ready() \
                and not self.channel.recv_ready() and not self.channel.recv_stderr_ready():
            self.returncode = self.channel.recv_exit_status()
            if self.returncode == -1:
                self.returncode = None
                self._lost()
                self.returncode = -1
            for stream, rest in self._buf.items():
                if rest and self._keep_lines:
                    self._lines.append((stream, rest.decode(errors="replace")))
                self._buf[stream] = bytearray()
        return self.returncode is not None

    def _lost(self) -> None:
        if self.returncode is None and not self.device.transport.is_active():
            raise UnreachableError(f"the connection to {self.device.name} was lost while "
                                   f"running `{_clip(self.command)}`")

    def _deadline_passed(self, deadline: float | None) -> bool:
        return deadline is not None and time.monotonic() >= deadline

    def lines(self, timeout: float | None = None) -> Iterator[tuple[str, str]]:
        """Yield ``(stream, line)`` ("stdout"/"stderr") as they arrive, until exit.

        ``timeout`` (seconds for the whole stream) stops the process and
        raises RemoteTimeoutError.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._receive()
            while self._lines:
                yield self._lines.popleft()
            if self._finished():
                while self._lines:
                    yield self._lines.popleft()
                return
            if self._deadline_passed(deadline):
                self._timeout(timeout)
            self._lost()
            time.sleep(self.POLL)

    def poll(self) -> int | None:
        self._receive()
        return self.returncode if self._finished() else None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit status, collecting output meanwhile."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._finished():
            if not self._receive():
                if self._deadline_passed(deadline):
                    self._timeout(timeout)
                self._lost()
                time.sleep(self.POLL)
        assert self.returncode is not None
        return self.returncode

    def communicate(self, timeout: float | None = None) -> CompletedCommand:
        """Wait for the exit; return the whole output (not consumed by ``lines()``)."""
        self._keep_lines = False
        self._lines.clear()
        code = self.wait(timeout)
        return CompletedCommand(self.command, code,
                                b"".join(self._out).decode(errors="replace"),
                                b"".join(self._err).decode(errors="replace"))

    def _timeout(self, timeout: float | None) -> None:
        self.stop()
        raise RemoteTimeoutError(f"`{_clip(self.command)}` on {self.device.name} did not "
                                 f"finish within {timeout:g} s and was stopped "
                                 f"(--timeout S allows more)")

    # -- stopping --

    def stop(self, grace: float = 2.0) -> int | None:
        """TERM the remote process group, KILL it after ``grace`` seconds; close."""
        if self.poll() is None and self.pid is not None and self.device.is_active:
            for signal in ("TERM", "KILL"):
                try:
                    self.device.run(f"kill -{signal} -{self.pid} 2>/dev/null || "
                                    f"kill -{signal} {self.pid} 2>/dev/null; true",
                                    timeout=max(grace, 5.0), check=False)
                except DeployError:
                    break
                end = time.monotonic() + grace
                while self.poll() is None and time.monotonic() < end:
                    time.sleep(0.02)
                if self.returncode is not None:
                    break
        self.channel.close()
        return self.returncode

    def __enter__(self) -> RemoteProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.returncode is None:
            self.stop()
        else:
            self.channel.close()
