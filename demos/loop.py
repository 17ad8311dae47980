"""The frame loop every demo shares: source -> model -> overlay -> display, timed.

Device-side module (numpy only through the callers): a demo supplies
``process(index, frame) -> (result, overlay)``, where ``result`` has
``inference_s`` (time in the C model) and a ``frame_s`` slot this loop
fills with the whole-frame time, and ``describe(result) -> dict`` for the
display's stats (the web view serves it as JSON).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from .display import Display
from .sources import FrameSource


class Timing:
    """Frames per second and latencies over the last ``window`` frames.

    The rate is frames divided by the time they took (the mean interval,
    inverted). A mean of 1/dt would let a few quick frames dominate: frames of
    5 and 95 ms give 20 fps, not 105.
    """

    def __init__(self, window: int = 30) -> None:
        self.frames = 0
        self.starts: deque[float] = deque(maxlen=window + 1)
        self.inference_s: deque[float] = deque(maxlen=window)
        self.frame_s: deque[float] = deque(maxlen=window)

    def tick(self, now: float) -> None:
        """A frame started at ``now`` (perf_counter seconds)."""
        self.starts.append(now)
        self.frames += 1

    def record(self, inference_s: float, frame_s: float) -> None:
        """The frame that last ticked took ``inference_s`` in C and ``frame_s`` in all."""
        self.inference_s.append(inference_s)
        self.frame_s.append(frame_s)

    @property
    def fps(self) -> float:
        if len(self.starts) < 2:
            return 0.0
        return (len(self.starts) - 1) / max(self.starts[-1] - self.starts[0], 1e-9)

    @property
    def inference_ms(self) -> float:
        return 1e3 * sum(self.inference_s) / len(self.inference_s) if self.inference_s else 0.0

    @property
    def frame_ms(self) -> float:
        return 1e3 * sum(self.frame_s) / len(self.frame_s) if self.frame_s else 0.0

    def as_dict(self) -> dict:
        return {"fps": self.fps, "inference_ms": self.inference_ms, "frame_ms": self.frame_ms}

    def line(self) -> str:
        return (f"{self.fps:5.1f} fps  C {self.inference_ms:.2f} ms  "
                f"frame {self.frame_ms:.1f} ms")


def run_loop(process: Callable[[int, np.ndarray], tuple[Any, np.ndarray]], source: FrameSource,
             display: Display, timing: Timing, describe: Callable[[Any], dict],
             frames: int | None = None, max_fps: float | None = None,
             on_result: Callable[[Any, dict], None] | None = None) -> list:
    """Run until the source ends, ``frames`` are done or the display closes; the results.

    ``max_fps`` paces the loop (files and synthetic frames pass their own
    rate); ``on_result`` sees every frame's result and the stats dict the
    display got.
    """
    results: list = []
    index = 0
    next_due = time.perf_counter()
    while frames is None or index < frames:
        if max_fps:
            time.sleep(max(0.0, next_due - time.perf_counter()))
            next_due = max(next_due + 1 / max_fps, time.perf_counter() - 1 / max_fps)
        t0 = time.perf_counter()
        frame = source.read()
        if frame is None:
            break
        timing.tick(t0)
        # One snapshot for the overlay (drawn by process from ``timing``), the
        # page, the log and the video file: all show the same figures.
        shown = timing.as_dict()
        result, overlay = process(index, frame)
        result.frame_s = time.perf_counter() - t0
        info = {"frame": index, **shown, **describe(result)}
        display.show(overlay, info)
        timing.record(result.inference_s, result.frame_s)
        results.append(result)
        if on_result is not None:
            on_result(result, info)
        index += 1
        if display.closed:
            break
    return results
