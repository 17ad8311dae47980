"""Where annotated frames go: a browser (MJPEG), a window, a video file, or nowhere.

  web[:PORT]     HTTP server: a page with the live MJPEG stream
                 (multipart/x-mixed-replace at /stream.mjpg) and the stats
                 (JSON at /stats.json, polled by the page); binds 127.0.0.1
                 unless --bind says otherwise. PORT 0 picks a free port.
  window         cv2.imshow (needs a desktop and an OpenCV build with GUI)
  file:OUT.mp4   a video file (OpenCV VideoWriter, mp4v)
  none           nothing (the stats still print)

Standard library + numpy + cv2 only: runs on the Pi.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from ..errors import BnnkitError

SPECS = "web[:PORT], window, file:OUT.mp4 or none"


class DisplayError(BnnkitError):
    """A display cannot be opened."""

    exit_code = 9


class Display:
    def show(self, frame: np.ndarray, stats: dict) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def closed(self) -> bool:   # the user closed the window
        return False


class NullDisplay(Display):
    pass


class WindowDisplay(Display):
    TITLE = "bnn-demo (q to quit)"

    def __init__(self) -> None:
        import cv2
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise DisplayError("no desktop here (DISPLAY is not set): use --display web and "
                               "open the printed address in a browser")
        try:
            cv2.namedWindow(self.TITLE)
        except cv2.error:
            raise DisplayError("this OpenCV has no window support (headless build): use "
                               "--display web, or install python3-opencv") from None
        self._closed = False

    def show(self, frame: np.ndarray, stats: dict) -> None:
        import cv2
        cv2.imshow(self.TITLE, frame)
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        import cv2
        cv2.destroyAllWindows()


class FileDisplay(Display):
    def __init__(self, path: str | Path, fps: float = 15.0) -> None:
        self.path, self.fps, self.writer = Path(path), fps, None
        if not self.path.parent.exists():
            raise DisplayError(f"{self.path.parent}: no such folder for the video")

    def show(self, frame: np.ndarray, stats: dict) -> None:
        import cv2
        if self.writer is None:
            h, w = frame.shape[:2]
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"),
                                          self.fps, (w, h))
            if not self.writer.isOpened():
                raise DisplayError(f"{self.path}: OpenCV cannot write this video (use .mp4 "
                                   f"or .avi)")
        self.writer.write(frame)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>bnn-demo: {title}</title>
<style>
body {{ font-family: sans-serif; background: #111; color: #eee; margin: 16px; }}
#wrap {{ display: flex; gap: 16px; flex-wrap: wrap; }}
img {{ border: 1px solid #444; max-width: 100%; }}
table {{ border-collapse: collapse; }} td {{ padding: 2px 10px; }}
#top1 {{ font-size: 28px; font-weight: bold; color: #7f7; }}
</style></head>
<body><h2>bnn-demo {title}</h2>
<div id="wrap"><img id="stream" src="/stream.mjpg" alt="live stream">
<div><div id="top1">waiting for frames</div>
<table id="top3"></table><p id="perf"></p><p id="source">{source}</p></div></div>
<script>
async function poll() {{
  try {{
    const s = await (await fetch('/stats.json', {{cache: 'no-store'}})).json();
    if (s.headline !== undefined) {{
      document.getElementById('top1').textContent = s.headline;
      document.getElementById('top3').innerHTML = s.rows.map(r =>
        `<tr><td>${{r[0]}}</td><td>${{r[1]}}</td></tr>`).join('');
      document.getElementById('perf').textContent =
        `frame ${{s.frame}}  ${{s.fps.toFixed(1)}} fps  ` +
        `inference ${{s.inference_ms.toFixed(2)}} ms  whole frame ${{s.frame_ms.toFixed(1)}} ms` +
        (s.note ? `  (${{s.note}})` : '');
    }}
  }} catch (e) {{ document.getElementById('perf').textContent = 'demo stopped'; }}
  setTimeout(poll, 300);
}}
poll();
</script></body></html>
"""


class WebDisplay(Display):
    """MJPEG + stats over HTTP, served from a background thread."""

    def __init__(self, port: int = 8000, bind: str = "127.0.0.1", title: str = "",
                 source: str = "", quality: int = 80) -> None:
        self.quality = quality
        self.cond = threading.Condition()
        self.jpeg: bytes | None = None
        self.seq = 0
        self.stats: dict = {}
        self.stopping = False
        page = PAGE.format(title=title, source=source).encode()
        display = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, body: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?")[0]
                if path in ("/", "/index.html"):
                    self._send(page, "text/html; charset=utf-8")
                elif path == "/stats.json":
                    with display.cond:
                        body = json.dumps(display.stats).encode()
                    self._send(body, "application/json")
                elif path == "/frame.jpg":
                    jpeg = display.wait_frame(-1)
                    if jpeg is None:
                        self.send_error(503, "no frame yet")
                    else:
                        self._send(jpeg[1], "image/jpeg")
                elif path == "/stream.mjpg":
                    self.stream()
                else:
                    self.send_error(404)

            def stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                seen = -1
                try:
                    while True:
                        got = display.wait_frame(seen)
                        if got is None:
                            return
                        seen, jpeg = got
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                         b"Content-Length: " + str(len(jpeg)).encode()
                                         + b"\r\n\r\n" + jpeg + b"\r\n")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return

        try:
            self.server = ThreadingHTTPServer((bind, port), Handler)
        except OSError as e:
            raise DisplayError(f"cannot serve on {bind}:{port} ({e.strerror}): pick another "
                               f"port with --display web:PORT") from None
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.bind = bind
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "") else self.bind
        return f"http://{host}:{self.port}/"

    def wait_frame(self, seen: int, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """The newest JPEG once it is newer than ``seen`` (None when stopping)."""
        with self.cond:
            self.cond.wait_for(lambda: self.stopping or (self.jpeg is not None
                                                         and self.seq != seen), timeout)
            if self.stopping or self.jpeg is None:
                return None
            return self.seq, self.jpeg

    def show(self, frame: np.ndarray, stats: dict) -> None:
        import cv2
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        with self.cond:
            if ok:
                self.jpeg = buf.tobytes()
                self.seq += 1
            self.stats = stats
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


def open_display(spec: str, *, bind: str = "127.0.0.1", title: str = "",
                 source: str = "", fps: float = 15.0) -> Display:
    kind, _, arg = spec.partition(":")
    if kind == "none" and not arg:
        return NullDisplay()
    if kind == "window" and not arg:
        return WindowDisplay()
    if kind == "file" and arg:
        return FileDisplay(arg, fps)
    if kind == "web":
        try:
            port = int(arg) if arg else 8000
        except ValueError:
            raise DisplayError(f"--display {spec!r}: the port must be a number, e.g. "
                               f"web:8080") from None
        if bind not in ("127.0.0.1", "localhost", "::1"):
            print(f"bnn-demo: warning: serving on {bind}: anyone on the network can watch the "
                  f"camera", file=sys.stderr)
        return WebDisplay(port, bind, title=title, source=source)
    raise DisplayError(f"--display {spec!r}: choose one of {SPECS}")
