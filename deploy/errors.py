"""The ways a deploy fails, one exception type (and exit code) each.

``bnn-deploy`` prints ``str(error)`` as one line and exits with the class's
``exit_code``, so scripts can tell a full disk from a wrong password:

====  ========================  ==================================================
code  exception                 meaning
====  ========================  ==================================================
2     RemotePathError           --remote-dir is not a plain path (``..``, ``$`` ...)
5     RemoteToolMissingError    --build-on-device and no gcc/make on the device
10    UnreachableError          no route, refused, DNS failure, SSH not spoken
11    AuthenticationError       no key or password was accepted
12    UnknownHostKeyError       host not in known_hosts (shows fingerprint + flag)
13    ChangedHostKeyError       host key differs from known_hosts: refused always
14    RemoteTimeoutError        connect or a remote command took too long
15    RemoteCommandError        a remote command failed (message has its stderr)
16    RemoteDiskFullError       not enough free space in the remote directory
17    SelftestError             the golden vectors differ on the device's CPU
18    TargetMismatchError       the program cannot execute there (wrong --target)
====  ========================  ==================================================
"""

from __future__ import annotations

from ..errors import BnnkitError


class DeployError(BnnkitError):
    """Base class of every deploy failure."""

    exit_code = 15


class RemotePathError(DeployError):
    exit_code = 2


class RemoteToolMissingError(DeployError):
    exit_code = 5


class UnreachableError(DeployError):
    exit_code = 10


class AuthenticationError(DeployError):
    exit_code = 11


class HostKeyError(DeployError):
    """Base of the two host-key refusals."""

    exit_code = 12


class UnknownHostKeyError(HostKeyError):
    exit_code = 12

    def __init__(self, message: str, *, host: str, key_type: str, fingerprint: str) -> None:
        super().__init__(message)
        self.host = host
        self.key_type = key_type
        self.fingerprint = fingerprint


class ChangedHostKeyError(HostKeyError):
    exit_code = 13


class RemoteTimeoutError(DeployError):
    exit_code = 14


class RemoteCommandError(DeployError):
    exit_code = 15

    def __init__(self, message: str, *, command: str = "", returncode: int | None = None,
                 stdout: str = "", stderr: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class RemoteDiskFullError(DeployError):
    exit_code = 16


class SelftestError(DeployError):
    exit_code = 17


class TargetMismatchError(DeployError):
    exit_code = 18
