"""A demo's web view, checked as a user sees it: its stats JSON and a real headless chromium."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def wait_for_stats(demo: subprocess.Popen, base: str, ready: Callable[[dict], bool],
                   timeout: float = 90) -> dict:
    """Poll ``base``/stats.json until ``ready(stats)`` (the demo must keep running)."""
    stats: dict = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (stats and ready(stats)):
        assert demo.poll() is None, demo.communicate()
        try:
            stats = json.loads(get(base + "stats.json"))
        except OSError:
            pass
        time.sleep(0.3)
    assert stats and ready(stats), f"the demo's stats never got ready: {stats}"
    return stats


def assert_mjpeg(base: str) -> None:
    with urllib.request.urlopen(base + "stream.mjpg", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        head = r.read(4096)
    assert b"--frame" in head and b"\xff\xd8" in head      # JPEG parts


def chromium_page(chromium: str, url: str, tmp_path: Path) -> tuple[str, np.ndarray]:
    """(the DOM after the page's scripts ran, an 800x600 screenshot as BGR pixels)."""
    import cv2
    browser = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=800,600",
               "--virtual-time-budget=3000"]
    shot = tmp_path / "page.png"
    subprocess.run([*browser, f"--screenshot={shot}", url], capture_output=True, timeout=60,
                   check=True)
    dom = subprocess.run([*browser, "--dump-dom", url], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    page = cv2.imread(str(shot))
    assert page is not None and page.shape[:2] == (600, 800)
    print(f"screenshot: {shot}")
    return dom, page
