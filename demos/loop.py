"""The frame loop every demo shares: source -> model -> overlay -> display, timed.

Device-side module (numpy only through the callers): a demo supplies
``process(index, frame) -> (result, overlay)``, where ``result`` has
``inference_s`` (time in the C model) and a ``frame_s`` slot this loop
fills with the whole-frame time, and ``describe(result) -> dict`` for the
display's stats (the web view serves it as JSON).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .display import Display
from .sources import FrameSource


@dataclass
class Timing:
    """Running frames per second and latencies (exponential moving averages)."""

    frames: int = 0
    fps: float = 0.0
    inference_ms: float = 0.0
    frame_ms: float = 0.0
    last: float = field(default_factory=time.perf_counter)

    def update(self, inference_s: float, frame_s: float) -> None:
        now = time.perf_counter()
        dt, self.last = now - self.last, now
        a = 0.1 if self.frames > 5 else 0.5
        self.fps = (1 - a) * self.fps + a / max(dt, 1e-6) if self.frames else 0.0
        self.inference_ms = (1 - a) * self.inference_ms + a * inference_s * 1e3
        self.frame_ms = (1 - a) * self.frame_ms + a * frame_s * 1e3
        self.frames += 1

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

    ``max_fps`` paces the loop (for files and synthetic frames); ``on_result``
    sees every frame's result and the stats dict the display got.
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
        result, overlay = process(index, frame)
        result.frame_s = time.perf_counter() - t0
        timing.update(result.inference_s, result.frame_s)
        info = {"frame": index, **timing.as_dict(), **describe(result)}
        display.show(overlay, info)
        results.append(result)
        if on_result is not None:
            on_result(result, info)
        index += 1
        if display.closed:
            break
    return results
