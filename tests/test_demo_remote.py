"""``bnn-demo classify|pose --host``: deploy, start on the device, forward the web view.

Two devices, both real OpenSSH servers on 127.0.0.1 (tests/pi_standin.py):

* a loopback one running commands on this machine: the deploy picks the
  portable ``generic`` build and the demo runs under this interpreter
  (``--remote-python``);
* the arm64 Debian bookworm stand-in of the deploy tests (chroot, qemu-user):
  the deploy probes it and cross-builds ``armv8``, and the demo runs in the
  stand-in's own emulated python3 with Debian's numpy 1.24, cffi and OpenCV
  4.6 (python3-opencv, which only the arm64 stand-in has), loading the
  aarch64 library through cffi's ABI mode, as on a Raspberry Pi.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest

from bnnkit.demos.classification.presets import PRESETS
from bnnkit.demos.pose.presets import POSE_MODEL

from .pi_standin import (
    SshServer,
    binfmt_handlers,
    keygen,
    need_root_sshd,
    standin_root,
)
from .webview import WebDemo

pytest.importorskip("cv2", reason="pip install 'opencv-python-headless<5'")


DIGITS = ("classify", "--model", "digits", "--source", "synthetic", "--hold", "1000")
POSE = ("pose", "--source", "synthetic")          # the shipped held-out clip


def run_remote_demo(server: SshServer, key: Path, known: Path, *extra: str, wait: float,
                    demo_args: tuple[str, ...] = DIGITS, key_field: str = "top"
                    ) -> tuple[dict, bytes, str]:
    """Run ``bnn-demo DEMO_ARGS --host`` against ``server`` until the forwarded stats.json
    has ``key_field`` (a prediction); then stop it.

    Returns those stats, the first bytes of the forwarded MJPEG stream and the
    demo's stderr (this machine's and the device's log).
    """
    if not PRESETS["digits"].model.exists() or not POSE_MODEL.exists():
        pytest.fail("a shipped model is missing (models/digits.pt or pose.pt)")
    deadline = time.monotonic() + wait
    demo = WebDemo([*demo_args, "--display", "web:0", "-q", "--host", "root@127.0.0.1",
                    "--ssh-port", str(server.port), "-i", str(key), "--known-hosts", str(known),
                    *extra], timeout=wait)
    stats: dict = {}
    try:
        while time.monotonic() < deadline and not stats.get(key_field):
            assert demo.running(), demo.stderr()
            try:
                with urllib.request.urlopen(f"{demo.url}stats.json", timeout=5) as r:
                    stats = json.loads(r.read())
            except OSError:
                pass
            time.sleep(0.5)
        assert stats.get(key_field), "no stats through the forwarded port"
        with urllib.request.urlopen(f"{demo.url}stream.mjpg", timeout=60) as r:
            head = r.read(8192)
    finally:
        err = demo.stop()
    return stats, head, err


def test_remote_demo_serves_the_device_stream_here(tmp_path) -> None:
    need_root_sshd()
    key = keygen(tmp_path / "user_key")
    with SshServer(tmp_path / "sshd", [key]) as server:
        known = tmp_path / "known_hosts"
        known.write_text(server.known_hosts_line())
        stats, head, err = run_remote_demo(
            server, key, known, "--fps", "10", "--remote-python", sys.executable,
            "--remote-dir", str(tmp_path / "device"), wait=100)
    assert stats["truth"] is not None and stats["top"][0]["label"] == stats["truth"]
    assert b"\xff\xd8" in head
    assert "Traceback" not in err, err       # e.g. from the forward when the stream is closed
    release = tmp_path / "device" / "digits" / "current"
    assert (release / "libdigits.so").is_file()
    assert (tmp_path / "device" / "py" / "bnnkit" / "demos" / "sources.py").is_file()


def test_remote_demo_that_ends_by_itself_exits_cleanly(tmp_path) -> None:
    """--frames N: the device's demo ends on its own, with its summary and exit code 0
    (its stdin watcher once made the interpreter abort at exit, losing both)."""
    need_root_sshd()
    key = keygen(tmp_path / "user_key")
    with SshServer(tmp_path / "sshd", [key]) as server:
        known = tmp_path / "known_hosts"
        known.write_text(server.known_hosts_line())
        proc = subprocess.run(
            [sys.executable, "-m", "bnnkit.cli.demo_cmd", "classify", "--model", "digits",
             "--source", "synthetic", "--display", "none", "--frames", "3", "-q",
             "--host", "root@127.0.0.1", "--ssh-port", str(server.port), "-i", str(key),
             "--known-hosts", str(known), "--remote-python", sys.executable,
             "--remote-dir", str(tmp_path / "device")],
            capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "3 frames: median C inference" in proc.stdout and "Fatal" not in proc.stderr


@pytest.mark.parametrize("demo", ["classify", "pose"])
def test_remote_demo_on_the_arm64_standin(tmp_path, demo: str) -> None:
    need_root_sshd()
    name = "digits" if demo == "classify" else "pose"
    key = keygen(tmp_path / "user_key")
    remote_dir = f"/root/demo-test-{uuid.uuid4().hex[:8]}"
    with binfmt_handlers():
        root = standin_root("arm64")
        with SshServer(tmp_path / "sshd", [key], chroot=root) as server:
            known = tmp_path / "known_hosts"
            known.write_text(server.known_hosts_line())
            start = time.monotonic()
            try:
                # everything on the device runs emulated: few frames, generous time
                stats, head, err = run_remote_demo(
                    server, key, known, "--fps", "2", "--remote-dir", remote_dir, wait=300,
                    demo_args=DIGITS if demo == "classify" else POSE,
                    key_field="top" if demo == "classify" else "keypoints")
                print(f"arm64 stand-in: first forwarded {demo} result after "
                      f"{time.monotonic() - start:.0f} s")
                lib_file = server.local_path(f"{remote_dir}/{name}/current/lib{name}.so")
                elf = lib_file.read_bytes()[:20]
            finally:
                shutil.rmtree(server.local_path(remote_dir), ignore_errors=True)
    if demo == "classify":
        assert stats["truth"] is not None and stats["top"][0]["label"] == stats["truth"], stats
    else:
        # The device decodes the clip with Debian's FFmpeg and OpenCV 4.6: its pixels,
        # and where a flat heatmap peaks, may differ from this machine's, so this checks
        # the shape of the answer; the C itself is bit-exact on aarch64 (deploy and
        # codegen tests).
        points = np.array(stats["keypoints"])
        assert points.shape == (17, 3) and np.isfinite(points).all(), stats
        assert ((points[:, 2] >= 0) & (points[:, 2] <= 1)).all(), stats
        assert stats["headline"].endswith("of 17 joints"), stats
    assert b"\xff\xd8" in head and "Traceback" not in err, err
    assert "bnn-demo: target: armv8" in err, err          # the probe saw an arm64 userland
    assert elf[:4] == b"\x7fELF" and elf[18] == 0xB7       # EM_AARCH64
    # the device's demo loaded that library into its own python3, an aarch64 process
    library = re.escape(f"{remote_dir}/{name}/current/lib{name}.so")
    assert re.search(rf"C model {library} in Python 3\.11\.\d+ on aarch64\n", err), err
