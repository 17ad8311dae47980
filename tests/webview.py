"""A demo's web view, checked as a user sees it: its stats JSON and a real headless chromium."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


#: The line bnn-demo prints once its web view (or, with --host, the forward) serves.
SERVING = re.compile(r"^bnn-demo: web view at (http://127\.0\.0\.1:\d+/)")


class WebDemo:
    """``bnn-demo ARGS``, where ARGS has ``--display web:0``: the demo binds a port the
    kernel picks, and says which. (A port picked here and bound by the demo later
    may be taken by another process meanwhile.) Both outputs are read as they come,
    so neither pipe fills up and stalls the demo."""

    def __init__(self, args: list[str] | tuple[str, ...], timeout: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bnnkit.cli.demo_cmd", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        served: queue.Queue[str | None] = queue.Queue()
        self.readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self.out,
                                                                  None), daemon=True),
                        threading.Thread(target=self._read, args=(self.proc.stderr, self.err,
                                                                  served), daemon=True)]
        for reader in self.readers:
            reader.start()
        try:
            url = served.get(timeout=timeout)
        except queue.Empty:
            url = None
        if url is None:
            self.stop()
            raise AssertionError(f"the demo did not serve within {timeout:g} s: "
                                 f"{self.stderr()}")
        self.url: str = url

    @staticmethod
    def _read(stream, lines: list[str], served: queue.Queue | None) -> None:  # noqa: ANN001
        for line in stream:
            lines.append(line)
            found = SERVING.match(line) if served is not None else None
            if found:
                served.put(found[1])
        if served is not None:
            served.put(None)                    # the demo ended

    def stderr(self) -> str:
        return "".join(self.err)

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> str:
        """Terminate the demo (if still running), wait for it; its whole stderr."""
        self.proc.terminate()
        self.proc.wait(timeout=60)
        for reader in self.readers:
            reader.join(timeout=10)
        return self.stderr()


def wait_for_stats(demo: WebDemo, ready: Callable[[dict], bool], timeout: float = 90) -> dict:
    """Poll the demo's stats.json until ``ready(stats)`` (the demo must keep running)."""
    stats: dict = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (stats and ready(stats)):
        assert demo.running(), demo.stderr()
        try:
            stats = json.loads(get(demo.url + "stats.json"))
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
