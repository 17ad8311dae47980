"""Where annotated frames go: a browser (MJPEG), a window, a video file, or nowhere.

  web[:PORT]     HTTP server: a page showing each frame with its own figures
                 (/frame.jpg?after=N: the next frame, its stats in a header),
                 an MJPEG stream for other players (/stream.mjpg) and the
                 newest stats (/stats.json); binds 127.0.0.1 unless --bind
                 says otherwise. PORT 0 picks a free port.
  window         cv2.imshow (needs a desktop and an OpenCV build with GUI)
  file:OUT.mp4   an H.264 video (ffmpeg) that plays at the rate the demo ran
  none           nothing (the stats still print)

Standard library + numpy + cv2 only: runs on the Pi.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from ..errors import BnnkitError

SPECS = "web[:PORT], window, file:OUT.mp4 or none"


class DisplayError(BnnkitError):
    """A display cannot be opened."""

    exit_code = 9


class Display:
    #: True where the display prints the stats beside the picture (the web
    #: page's panel), so the overlay need not draw them over it.
    shows_stats = False

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


def find_ffmpeg() -> str:
    """An ffmpeg with libx264: the one in imageio-ffmpeg's wheel, else the system's."""
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        pass
    found = shutil.which("ffmpeg")
    if found is None:
        raise DisplayError("--display file: needs ffmpeg for H.264: pip install imageio-ffmpeg "
                           "(or apt install ffmpeg)")
    return found


class FileDisplay(Display):
    """An H.264 video that plays at the rate it was made at.

    ffmpeg encodes (libx264, yuv420p, moov atom first: plays in browsers and
    chat previews) at a constant rate: ``fps`` when the source has one, else
    the rate of the first second of frames. Each frame is repeated or dropped
    so that it appears at the time the demo showed it, so the video lasts as
    long as the run did. The file is written beside the target and renamed
    into place when the demo ends: never half a video under the user's name.
    """

    PROBE_S = 1.0
    EXTS = (".mp4", ".mov", ".mkv")

    def __init__(self, path: str | Path, fps: float | None = None) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise DisplayError(f"{self.path.parent}: no such folder for the video")
        if self.path.suffix.lower() not in self.EXTS:
            raise DisplayError(f"{self.path}: write the video as {', '.join(self.EXTS)}")
        self.ffmpeg = find_ffmpeg()
        self.partial = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.rate = fps
        self.probe: list[tuple[float, np.ndarray]] = []
        self.proc: subprocess.Popen | None = None
        self.start = 0.0
        self.written = 0
        self.last: np.ndarray | None = None

    def show(self, frame: np.ndarray, stats: dict) -> None:
        now = time.perf_counter()
        if self.proc is None:
            self.probe.append((now, frame))
            if self.rate is None and now - self.probe[0][0] < self.PROBE_S:
                return
            self._open()
        else:
            self._add(now, frame)

    def _open(self) -> None:
        times = [t for t, _ in self.probe]
        if self.rate is None:
            span = times[-1] - times[0]
            self.rate = (len(times) - 1) / span if span > 0 else 15.0
        self.rate = float(min(max(round(self.rate), 1), 60))
        h, w = self.probe[0][1].shape[:2]
        self.proc = subprocess.Popen(
            [self.ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
             "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", f"{self.rate:g}", "-i", "-",
             "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast",
             "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", self.path.suffix[1:]
             .replace("mkv", "matroska"), str(self.partial)],
            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self.start = times[0]
        for t, frame in self.probe:
            self._add(t, frame)
        self.probe = []

    def _add(self, now: float, frame: np.ndarray) -> None:
        """Write the previous frame for as long as it was on screen."""
        assert self.proc is not None and self.proc.stdin is not None and self.rate
        due = round((now - self.start) * self.rate)
        if self.last is not None:
            for _ in range(max(due - self.written, 0)):
                self._write(self.last)
        self.last = frame

    def _write(self, frame: np.ndarray) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BrokenPipeError:
            raise DisplayError(f"{self.path}: ffmpeg stopped: {self._ffmpeg_error()}") from None
        self.written += 1

    def _ffmpeg_error(self) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        text = self.proc.stderr.read().decode(errors="replace").strip()
        return text.splitlines()[-1] if text else f"exit code {self.proc.poll()}"

    def close(self) -> None:
        if self.proc is None and self.probe:
            self._open()
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        if self.last is not None:
            self._write(self.last)
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            self.partial.unlink(missing_ok=True)
            raise DisplayError(f"{self.path}: ffmpeg failed: {self._ffmpeg_error()}")
        os.replace(self.partial, self.path)


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>bnnkit: {title}</title>
<style>
html, body {{ height: 100%; margin: 0; }}
body {{ font-family: sans-serif; background: #111; color: #eee; display: flex;
        flex-direction: column; }}
h1 {{ font-size: 20px; margin: 10px 16px; font-weight: normal; }}
h1 b {{ color: #7f7; }}
#wrap {{ flex: 1; min-height: 0; display: flex; gap: 16px; padding: 0 16px 16px; }}
#view {{ flex: 1; min-width: 0; min-height: 0; }}
#stream {{ width: 100%; height: 100%; object-fit: contain; object-position: left top; }}
#panel {{ flex: 0 0 clamp(180px, 22vw, 320px); overflow: hidden; }}
table {{ border-collapse: collapse; }} td {{ padding: 2px 8px 2px 0; }}
#top1 {{ font-size: 28px; font-weight: bold; color: #7f7; overflow-wrap: anywhere; }}
#perf, #source {{ color: #aaa; font-size: 14px; }}
@media (max-width: 640px) {{ #wrap {{ flex-direction: column; }}
  #panel {{ flex: none; }} }}
</style></head>
<body><h1><b>bnnkit</b> {title}</h1>
<div id="wrap"><div id="view"><img id="stream" alt="live view" data-frame="-1"></div>
<div id="panel"><div id="top1">waiting for frames</div>
<table id="top3"></table><p id="perf"></p><p id="source">{source}</p></div></div>
<script>
// Each frame comes with its own figures (/frame.jpg?after=N answers with the
// next frame and its stats in a header), so the panel always describes the
// picture on screen. /stream.mjpg serves the same frames to other players.
const img = document.getElementById('stream');
let seq = -1, shown = null;
function panel(s) {{
  document.getElementById('top1').textContent = s.headline;
  document.getElementById('top3').innerHTML = s.rows.map(r =>
    `<tr><td>${{r[0]}}</td><td>${{r[1]}}</td></tr>`).join('');
  document.getElementById('perf').textContent =
    `frame ${{s.frame}}, ${{s.fps.toFixed(1)}} fps, C ${{s.inference_ms.toFixed(2)}} ms, ` +
    `whole frame ${{s.frame_ms.toFixed(1)}} ms` + (s.note ? `; ${{s.note}}` : '');
}}
async function next() {{
  try {{
    const r = await fetch(`/frame.jpg?after=${{seq}}`, {{cache: 'no-store'}});
    if (r.ok) {{
      seq = Number(r.headers.get('X-Frame-Seq'));
      const stats = JSON.parse(r.headers.get('X-Frame-Stats'));
      const url = URL.createObjectURL(await r.blob());
      img.src = url;
      await img.decode();
      img.dataset.frame = stats.frame;
      if (stats.headline !== undefined) panel(stats);
      const box = img.getBoundingClientRect();   // the picture inside it, as object-fit draws it
      document.body.dataset.streamWidth = Math.round(
        Math.min(box.width, box.height * img.naturalWidth / img.naturalHeight));
      if (shown) URL.revokeObjectURL(shown);
      shown = url;
    }}
  }} catch (e) {{
    document.getElementById('perf').textContent = 'demo stopped';
    await new Promise(done => setTimeout(done, 1000));
  }}
  setTimeout(next, 0);
}}
next();
</script></body></html>
"""


class WebDisplay(Display):
    """MJPEG + stats over HTTP, served from a background thread."""

    shows_stats = True

    def __init__(self, port: int = 8000, bind: str = "127.0.0.1", title: str = "",
                 source: str = "", quality: int = 80) -> None:
        self.quality = quality
        self.cond = threading.Condition()
        self.jpeg: bytes | None = None
        self.seq = 0
        self.stats: dict = {}
        self.frame_stats: dict = {}      # the stats of the frame in ``jpeg``
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
                    self.frame(self.path.partition("?after=")[2])
                elif path == "/stream.mjpg":
                    self.stream()
                else:
                    self.send_error(404)

            def frame(self, after: str) -> None:
                """The first frame newer than ``after`` (a sequence number), with its stats."""
                got = display.wait_frame(int(after) if after.lstrip("-").isdigit() else -1)
                if got is None:
                    self.send_error(503, "no frame yet")
                    return
                seq, jpeg, stats = got
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(jpeg)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Frame-Seq", str(seq))
                self.send_header("X-Frame-Stats", json.dumps(stats))
                self.end_headers()
                self.wfile.write(jpeg)

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
                        seen, jpeg, _ = got
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

    def wait_frame(self, seen: int, timeout: float = 5.0) -> tuple[int, bytes, dict] | None:
        """The newest JPEG and its stats once newer than ``seen`` (None when stopping)."""
        with self.cond:
            self.cond.wait_for(lambda: self.stopping or (self.jpeg is not None
                                                         and self.seq != seen), timeout)
            if self.stopping or self.jpeg is None:
                return None
            return self.seq, self.jpeg, self.frame_stats

    def show(self, frame: np.ndarray, stats: dict) -> None:
        import cv2
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        with self.cond:
            if ok:
                self.jpeg = buf.tobytes()
                self.frame_stats = stats
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
                 source: str = "", fps: float | None = None) -> Display:
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
            port = -1
        if not 0 <= port < 65536:  # 0: any free port
            raise DisplayError(f"--display {spec!r}: the port must be a number from 0 to "
                               f"65535, e.g. web:8080")
        if bind not in ("127.0.0.1", "localhost", "::1"):
            print(f"bnn-demo: warning: serving on {bind}: anyone on the network can watch the "
                  f"camera", file=sys.stderr)
        return WebDisplay(port, bind, title=title, source=source)
    raise DisplayError(f"--display {spec!r}: choose one of {SPECS}")
