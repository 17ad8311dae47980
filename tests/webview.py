"""A demo's web view, checked as a user sees it: its stats JSON and a real headless chromium."""

from __future__ import annotations

import json
import re
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


VIEWPORT = (1280, 800)      # a laptop screen


def chromium_page(chromium: str, url: str, tmp_path: Path,
                  size: tuple[int, int] = VIEWPORT) -> tuple[str, np.ndarray]:
    """(the DOM after the page's scripts ran, a screenshot of ``size`` as BGR pixels)."""
    import cv2
    browser = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={size[0]},{size[1]}",
               "--virtual-time-budget=3000"]
    shot = tmp_path / "page.png"
    subprocess.run([*browser, f"--screenshot={shot}", url], capture_output=True, timeout=60,
                   check=True)
    dom = subprocess.run([*browser, "--dump-dom", url], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    page = cv2.imread(str(shot))
    assert page is not None and page.shape[:2] == (size[1], size[0])
    print(f"screenshot: {shot}")
    return dom, page


def assert_page_layout(dom: str, page: np.ndarray) -> None:
    """The stream fills most of the window, shows a picture, and the panel describes
    the frame on screen (not whichever frame the stats endpoint had last)."""
    width = re.search(r'data-stream-width="(\d+)"', dom)
    assert width, "the page never showed a frame: " + dom[:2000]
    assert int(width[1]) >= 0.6 * page.shape[1], f"stream {width[1]} px of {page.shape[1]}"
    on_screen = re.search(r'id="stream"[^>]*data-frame="(\d+)"', dom)
    in_panel = re.search(r'id="perf">frame (\d+),', dom)
    assert on_screen and in_panel and on_screen[1] == in_panel[1], dom[:3000]
    top = 50                                      # below the title line
    stream = page[top:top + int(width[1]) * 3 // 4, 16:16 + int(width[1])]
    assert stream.std() > 20, "the stream shows no frame"
