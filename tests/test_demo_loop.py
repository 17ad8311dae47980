"""The frame loop's figures and the displays: true FPS, one set of figures per frame,
videos that play at the rate they were made at, a page that pairs frames with stats."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from bnnkit.demos import loop  # noqa: E402
from bnnkit.demos.display import Display, FileDisplay, WebDisplay  # noqa: E402
from bnnkit.demos.loop import Timing, run_loop  # noqa: E402
from bnnkit.demos.sources import FileSource, FrameSource  # noqa: E402


@dataclass
class Result:
    inference_s: float
    frame_s: float = 0.0
    fps_drawn: float = 0.0


class Clock:
    """Virtual time for the frame loop (``perf_counter``, ``sleep``): a sleep lasts
    exactly what it asks, so the loop's figures do not depend on the machine's load."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


class Frames(FrameSource):
    """``count`` frames whose brightness is their index; ``delays`` seconds each to read."""

    def __init__(self, count: int, delays: list[float], sleep: Callable[[float], None]
                 ) -> None:
        self.count, self.delays, self.sleep, self.k = count, delays, sleep, 0

    def read(self) -> np.ndarray | None:
        if self.k >= self.count:
            return None
        self.sleep(self.delays[self.k % len(self.delays)])
        self.k += 1
        return np.full((48, 64, 3), min(self.k * 8, 255), np.uint8)


class Recorder(Display):
    def __init__(self) -> None:
        self.stats: list[dict] = []

    def show(self, frame: np.ndarray, stats: dict) -> None:
        self.stats.append(stats)


def test_fps_is_frames_over_time_not_a_mean_of_rates() -> None:
    timing = Timing(window=10)
    now = 0.0
    for k in range(11):
        timing.tick(now)
        now += 0.005 if k % 2 else 0.095       # frames of 5 and 95 ms: 20 fps, not 105
    assert timing.fps == pytest.approx(20.0)
    for _ in range(3):
        timing.record(0.002, 0.05)
    assert timing.inference_ms == pytest.approx(2.0) and timing.frame_ms == pytest.approx(50.0)


def test_overlay_page_and_log_show_the_same_rate_of_a_known_source(monkeypatch) -> None:  # noqa: ANN001
    clock = Clock()
    monkeypatch.setattr(loop, "time", clock)
    timing, display = Timing(), Recorder()
    seen: list[tuple[dict, dict]] = []

    def process(index: int, frame: np.ndarray) -> tuple[Result, np.ndarray]:
        return Result(0.001, fps_drawn=timing.fps), frame     # what the overlay draws

    frames = Frames(40, delays=[0.0, 0.04], sleep=clock.sleep)
    results = run_loop(process, frames, display, timing, lambda r: {}, max_fps=25,
                       on_result=lambda r, info: seen.append(info))
    assert [r.fps_drawn for r in results] == [s["fps"] for s in display.stats]
    assert [s["fps"] for s in display.stats] == [info["fps"] for info in seen]
    # paced at 25 fps, but every other frame takes 40 ms to read: 1 / mean(40, 40+)
    assert 19 <= display.stats[-1]["fps"] <= 25.5, display.stats[-1]


def _video(path: Path) -> tuple[str, float, int]:
    cap = cv2.VideoCapture(str(path))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    fps, count = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return fourcc, fps, count


@pytest.mark.parametrize("rate_hint", [20.0, None])
def test_video_file_is_h264_and_lasts_as_long_as_the_run(tmp_path, rate_hint) -> None:  # noqa: ANN001
    out = tmp_path / "run.mp4"
    display = FileDisplay(out, fps=rate_hint)
    started = time.perf_counter()
    for k in range(45):                     # 15 frames at ~50 fps, then 30 at ~12 fps
        display.show(np.full((61, 81, 3), k * 5, np.uint8), {})
        time.sleep(0.02 if k < 15 else 0.08)
    wall = time.perf_counter() - started    # the run; not ffmpeg's finishing the file after
    display.close()
    fourcc, fps, count = _video(out)
    assert fourcc in ("avc1", "h264"), fourcc
    assert count / fps == pytest.approx(wall, abs=0.25), (count, fps, wall)
    assert [p.name for p in tmp_path.iterdir()] == ["run.mp4"], "partial file left behind"


def test_video_file_refuses_what_it_cannot_write(tmp_path) -> None:  # noqa: ANN001
    from bnnkit.demos.display import DisplayError
    with pytest.raises(DisplayError, match="no such folder"):
        FileDisplay(tmp_path / "missing" / "x.mp4")
    with pytest.raises(DisplayError, match=".mp4"):
        FileDisplay(tmp_path / "x.gif")


def test_web_frames_come_with_their_own_stats() -> None:
    display = WebDisplay(0)
    try:
        base = display.url
        seq = -1
        for k in range(1, 6):
            display.show(np.full((48, 64, 3), k * 40, np.uint8), {"frame": k})
            with urllib.request.urlopen(f"{base}frame.jpg?after={seq}", timeout=5) as r:
                seq = int(r.headers["X-Frame-Seq"])
                stats = json.loads(r.headers["X-Frame-Stats"])
                jpeg = np.frombuffer(r.read(), np.uint8)
            pixels = cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)
            assert abs(float(pixels.mean()) - stats["frame"] * 40) < 3, (stats, pixels.mean())
            assert stats["frame"] == k
    finally:
        display.close()


def test_files_play_at_their_own_rate(tmp_path) -> None:  # noqa: ANN001
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 12, (64, 48))
    for k in range(5):
        writer.write(np.full((48, 64, 3), k * 20, np.uint8))
    writer.release()
    assert FileSource(clip).fps == pytest.approx(12)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    assert FileSource(tmp_path / "a.png").fps == 2.0
