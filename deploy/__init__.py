"""Deploy generated C projects to a Raspberry Pi (or any Linux device) over SSH.

::

    from bnnkit.deploy import Device, deploy

    with Device.connect("pi@raspberrypi", accept_new_host_key=False) as pi:
        info = pi.probe()                      # board, CPU, userland, tools
        result = deploy("model_bnn", pi, bench=100)
        print(result.target, result.bench["total"]["median"])
        with pi.start(["./demo", "--camera"], cwd=result.app_dir + "/current") as proc:
            for stream, line in proc.lines():  # streamed; Ctrl-C stops it remotely
                print(line)

* ``ssh``      :class:`Device` (connect like ``ssh``, run/start commands, SFTP);
* ``probe``    :class:`DeviceInfo`, target and --cpu for a device;
* ``release``  versioned releases and the atomic ``current`` switch;
* ``pipeline`` :func:`deploy`: build, upload, self-test, switch, bench;
* ``errors``   one exception (and exit code) per kind of failure.

Only paramiko is needed here (no torch unless a model file is exported).
"""

from __future__ import annotations

from .errors import (
    AuthenticationError,
    ChangedHostKeyError,
    DeployError,
    HostKeyError,
    RemoteCommandError,
    RemoteDiskFullError,
    RemotePathError,
    RemoteTimeoutError,
    RemoteToolMissingError,
    SelftestError,
    TargetMismatchError,
    UnknownHostKeyError,
    UnreachableError,
)
from .pipeline import DeployResult, choose_target, deploy, prepare_project
from .probe import DeviceInfo, TargetChoice, parse_probe
from .ssh import CompletedCommand, Device, RemoteProcess, SSHTarget, resolve_target

__all__ = [
    "AuthenticationError", "ChangedHostKeyError", "CompletedCommand",
    "DeployError", "DeployResult", "Device", "DeviceInfo", "HostKeyError",
    "RemoteCommandError", "RemoteDiskFullError", "RemotePathError", "RemoteProcess",
    "RemoteTimeoutError", "RemoteToolMissingError", "SSHTarget", "SelftestError",
    "TargetChoice", "TargetMismatchError", "UnknownHostKeyError", "UnreachableError",
    "choose_target", "deploy", "parse_probe", "prepare_project", "resolve_target",
]
