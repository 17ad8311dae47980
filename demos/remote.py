"""``bnn-demo classify|pose --host user@pi``: the same demo, running on a Raspberry Pi.

On this machine (needs paramiko and the export/codegen side):

1. build the model's C project (cached) and ``bnnkit.deploy.deploy`` it:
   cross-built program and shared library for the device's target, uploaded
   as a release, self-tested on the device;
2. upload the device half of the demo (numpy + cffi + cv2 only: the cffi
   runtime, IR reader, golden dequantization, sources, displays, pipeline,
   this command) to ``<remote-dir>/py/bnnkit`` (only changed files);
3. start ``python3 -m bnnkit.cli.demo_cmd <demo> <release>
   --library <release>/lib<name>.so ...`` there and stream its output;
   Ctrl-C stops it on the device;
4. ``--display web[:PORT]``: the Pi's server binds its 127.0.0.1 (a free
   port) and this machine forwards its own 127.0.0.1:PORT there through the
   SSH connection (nothing is exposed on the Pi's network unless --bind says
   so; then the Pi serves on PORT itself).

The Pi needs python3-numpy, python3-cffi and python3-opencv (Raspberry Pi OS:
``sudo apt install python3-numpy python3-cffi python3-opencv``; picamera2
for the camera module: python3-picamera2).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import posixpath
import re
import select
import shlex
import signal
import socket
import sys
import threading
from pathlib import Path

from ..errors import BnnkitError

WEB_LINE = re.compile(r"web view at http://[^:/]+:(\d+)/")
PACKAGE = Path(__file__).resolve().parents[1]        # the bnnkit package root
DEVICE_FILES = ("__init__.py", "errors.py", "progress.py", "cli/__init__.py", "cli/common.py",
                "cli/flags.py", "cli/demo_cmd.py", "runtime/*.py", "ir/*.py", "golden/*.py",
                "demos/__init__.py", "demos/sources.py", "demos/display.py",
                "demos/classification/__init__.py", "demos/classification/pipeline.py",
                "demos/classification/preprocess.py", "demos/classification/presets.py",
                "demos/classification/engine.py", "demos/classification/data/*.npz",
                "demos/loop.py", "demos/text.py", "demos/pose/__init__.py",
                "demos/pose/pipeline.py", "demos/pose/person.py", "demos/pose/detector.py",
                "demos/pose/decode.py", "demos/pose/keypoints.py", "demos/pose/presets.py",
                "demos/pose/data/heldout_clip.mp4")


def device_files() -> list[tuple[Path, str]]:
    out = []
    for pattern in DEVICE_FILES:
        for path in sorted(PACKAGE.glob(pattern)):
            out.append((path, path.relative_to(PACKAGE).as_posix()))
    return out


def upload_python(device, root: str, log) -> str:  # noqa: ANN001 - Device, callable
    """Copy the device half of bnnkit to ``root/py/bnnkit``; returns ``root/py``."""
    base = posixpath.join(root, "py", "bnnkit")
    files = device_files()
    dirs = sorted({posixpath.dirname(posixpath.join(base, rel)) for _, rel in files})
    device.run(["mkdir", "-p", *dirs])
    listing = device.run(f"cd {shlex.quote(base)} && find . -type f -exec sha256sum {{}} +",
                         check=False).stdout
    remote = {line.split()[1][2:]: line.split()[0] for line in listing.splitlines()
              if len(line.split()) == 2}
    sent = 0
    for path, rel in files:
        data = path.read_bytes()
        if remote.get(rel) != hashlib.sha256(data).hexdigest():
            with device.sftp.open(posixpath.join(base, rel), "wb") as f:
                f.write(data)
            sent += 1
    log(f"demo code: {sent} of {len(files)} files uploaded to {base}")
    return posixpath.dirname(base)


class Forward:
    """127.0.0.1:local_port here -> 127.0.0.1:remote_port on the device, over SSH."""

    def __init__(self, transport, local_port: int,  # noqa: ANN001 - paramiko.Transport
                 remote_port: int | None = None) -> None:
        self.transport, self.remote_port = transport, remote_port   # set once known
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.server.bind(("127.0.0.1", local_port))
        except OSError as e:
            raise BnnkitError(f"cannot listen on 127.0.0.1:{local_port} here ({e.strerror}): "
                              f"pick another port with --display web:PORT") from None
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, addr = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._pump, args=(client, addr), daemon=True).start()

    def _pump(self, client: socket.socket, addr) -> None:  # noqa: ANN001
        if self.remote_port is None:      # the device has not started serving yet
            client.close()
            return
        try:
            chan = self.transport.open_channel("direct-tcpip", ("127.0.0.1", self.remote_port),
                                               addr)
        except Exception:  # noqa: BLE001 - the device refused: drop this client
            client.close()
            return
        # a viewer closing the page resets the connection: end quietly
        with client, chan, contextlib.suppress(OSError):
            while True:
                ready, _, _ = select.select([client, chan], [], [], 1.0)
                if client in ready:
                    data = client.recv(65536)
                    if not data:
                        return
                    chan.sendall(data)
                if chan in ready:
                    data = chan.recv(65536)
                    if not data:
                        return
                    client.sendall(data)

    def close(self) -> None:
        self.server.close()


def device_argv(args: argparse.Namespace, demo: str, release: str, library: str,
                extra: list[str]) -> list[str]:
    """The device's ``bnn-demo DEMO`` command line: the options every demo shares from
    ``args``, then the demo's own ``extra`` ones."""
    display = args.display
    if display.partition(":")[0] == "web" and args.bind in ("127.0.0.1", "localhost"):
        display = "web:0"       # any free port on the device; we forward to it
    argv = [args.remote_python, "-m", "bnnkit.cli.demo_cmd", demo, release,
            "--library", library, "--source", args.source, "--display", display,
            "--bind", args.bind, "--stop-on-stdin-eof", *extra]
    if args.frames:
        argv += ["--frames", str(args.frames)]
    if args.fps:
        argv += ["--fps", str(args.fps)]
    if args.quiet:
        argv.append("-q")
    return argv


def _interrupt(_sig: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _deploy(project: Path, device, args: argparse.Namespace,  # noqa: ANN001
            log) -> tuple[str, str]:  # noqa: ANN001
    """Deploy a built project; (its release directory, its shared library) on the device."""
    from ..deploy import deploy
    from ..deploy.pipeline import project_name
    result = deploy(project, device, target=args.target, cpu=args.cpu,
                    remote_dir=args.remote_dir, timeout=max(8 * args.timeout, 60.0), log=log)
    release = posixpath.join(result.app_dir, "current")
    return release, posixpath.join(release, f"lib{project_name(project)}.so")


def run_remote(args: argparse.Namespace, model: Path, demo: str, extra: list[str],
               log, also: dict[str, Path] | None = None) -> int:  # noqa: ANN001 - log(str)
    """Deploy ``model``, start ``bnn-demo DEMO ... EXTRA`` on ``args.host``, stream its
    output here until it ends or Ctrl-C; the web view is forwarded here. ``also`` maps
    an option of the device's command to another model it needs (the pose demo's person
    detector): that model is deployed too and the option names its library there."""
    from ..deploy import Device
    from ..deploy.release import absolute_remote_dir
    from .classification.engine import host_project
    signal.signal(signal.SIGTERM, _interrupt)   # clean up on the device when killed here
    project = host_project(model)
    log(f"connecting to {args.host}")
    with Device.connect(args.host, port=args.port, key_files=args.identity,
                        known_hosts=args.known_hosts,
                        accept_new_host_key=args.accept_new_host_key,
                        ssh_config=args.ssh_config, timeout=args.timeout) as device:
        release, library = _deploy(project, device, args, log)
        for option, other in (also or {}).items():
            extra = [*extra, option, _deploy(host_project(other), device, args, log)[1]]
        pythonpath = upload_python(device, absolute_remote_dir(args.remote_dir, device.home),
                                   log)
        forward = None
        kind, _, port = args.display.partition(":")
        if kind == "web":
            forward = Forward(device.transport, int(port) if port else 8000)
        argv = device_argv(args, demo, release, library, extra)
        log(f"starting on {device.name}: {shlex.join(argv)}")
        try:
            with device.start(argv, env={"PYTHONPATH": pythonpath}) as proc:
                for stream, line in proc.lines():
                    served = WEB_LINE.search(line) if stream == "stderr" else None
                    if served and forward is not None:
                        forward.remote_port = int(served.group(1))
                        log(f"web view at http://127.0.0.1:{forward.port}/  (forwarded over "
                            f"SSH to port {forward.remote_port} on {args.host}; Ctrl-C to stop)")
                        continue
                    print(line.rstrip("\n"), file=sys.stderr if stream == "stderr"
                          else sys.stdout, flush=True)
                return proc.wait()
        finally:
            if forward is not None:
                forward.close()
