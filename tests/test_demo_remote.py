"""``bnn-demo classify --host``: deploy, start on the device, forward the web view.

The device is a real OpenSSH server on 127.0.0.1 (tests/pi_standin.py) running
commands on this machine, so the deploy picks the portable ``generic`` build
and the demo runs under this interpreter (``--remote-python``). The ARM
userland stand-ins have no OpenCV, so the ARM path is covered by the deploy
tests (C) and this one (the Python half is the same code).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from bnnkit.demos.classification.presets import PRESETS

from .pi_standin import SshServer, free_port, keygen, need_root_sshd

pytest.importorskip("cv2", reason="pip install 'opencv-python-headless<5'")


def test_remote_demo_serves_the_device_stream_here(tmp_path) -> None:
    need_root_sshd()
    if not PRESETS["digits"].model.exists():
        pytest.fail("models/digits.pt missing")
    key = keygen(tmp_path / "user_key")
    with SshServer(tmp_path / "sshd", [key]) as server:
        known = tmp_path / "known_hosts"
        known.write_text(server.known_hosts_line())
        port = free_port()
        demo = subprocess.Popen(
            [sys.executable, "-m", "bnnkit.cli.demo_cmd", "classify", "--model", "digits",
             "--source", "synthetic", "--hold", "1000", "--display", f"web:{port}",
             "--fps", "10", "-q", "--host", "root@127.0.0.1", "--ssh-port", str(server.port),
             "-i", str(key), "--known-hosts", str(known), "--remote-python", sys.executable,
             "--remote-dir", str(tmp_path / "device")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            stats: dict = {}
            deadline = time.monotonic() + 100
            while time.monotonic() < deadline and not stats.get("top"):
                assert demo.poll() is None, demo.communicate()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats.json",
                                                timeout=5) as r:
                        stats = json.loads(r.read())
                except OSError:
                    pass
                time.sleep(0.5)
            assert stats.get("top"), "no stats through the forwarded port"
            assert stats["truth"] is not None and stats["top"][0]["label"] == stats["truth"]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stream.mjpg", timeout=5) as r:
                assert b"\xff\xd8" in r.read(8192)
            release = tmp_path / "device" / "digits" / "current"
            assert (release / "libdigits.so").is_file()
            assert (tmp_path / "device" / "py" / "bnnkit" / "demos" / "sources.py").is_file()
        finally:
            demo.terminate()
            demo.wait(timeout=20)
