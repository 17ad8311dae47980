"""The live classification loop: source -> preprocess -> generated C -> overlay -> display.

Device-side module: imports numpy, cffi (through bnnkit.runtime) and cv2,
never torch or jinja2, so a Pi with a cross-built ``.so`` runs it as is::

    clf = Classifier("project_dir", library="libmodel.so")
    run(clf, FileSource("clip.mp4"), WebDisplay(8000), Preprocess(invert=True))

Confidences are the softmax of the dequantized logits of the C model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...errors import ModelFileError
from ...runtime import CModel
from ...runtime.layout import dequantize
from ..display import Display
from ..loop import Timing, run_loop
from ..sources import FrameSource
from ..text import put_text, text_scale
from .preprocess import Preprocess


class Classifier:
    """A generated C classifier: uint8 pixels (H, W, C) in, class probabilities out."""

    def __init__(self, project_dir: str | Path, library: str | Path | None = None) -> None:
        self.model = CModel(project_dir, library=library)
        meta = self.model.graph.meta
        inp = self.model.input
        if inp.dtype != "uint8":
            raise ModelFileError(f"{project_dir}: the model takes {inp.dtype} input; save it "
                                 f"with bnnkit.save(..., normalize=(mean, std)) so it takes "
                                 f"raw camera pixels")
        _, self.height, self.width, self.channels = inp.shape
        classes = int(np.prod(self.model.output.shape))
        self.labels = list(meta.get("labels") or [str(i) for i in range(classes)])

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, float]:
        """(probabilities, seconds spent in the C model) for one image."""
        t0 = time.perf_counter()
        q = self.model.run_int(pixels[None])
        seconds = time.perf_counter() - t0
        logits = dequantize(q, self.model.output).reshape(-1).astype(np.float64)
        e = np.exp(logits - logits.max())
        return e / e.sum(), seconds

    def preprocess(self, **options: object) -> Preprocess:
        return Preprocess(size=(self.height, self.width), channels=self.channels,
                          **options)  # type: ignore[arg-type]


@dataclass
class FrameResult:
    index: int
    top: list[tuple[int, float]]      # (class, probability), best first
    truth: int | None
    inference_s: float
    frame_s: float


class Stats(Timing):
    """Running figures shown on the overlay and served as JSON."""

    def __init__(self, labels: list[str]) -> None:
        super().__init__()
        self.labels = labels

    def describe(self, result: FrameResult) -> dict:
        truth = self.labels[result.truth] if result.truth is not None else None
        return {"top": [{"label": self.labels[k], "index": k, "p": p} for k, p in result.top],
                "truth": truth,
                # what the web page shows: the best label, the top 3, a remark
                "headline": self.labels[result.top[0][0]],
                "rows": [(self.labels[k], f"{100 * p:.1f}%") for k, p in result.top],
                "note": f"test label: {truth}" if truth is not None else ""}


def draw_overlay(frame: np.ndarray, box: tuple[int, int, int, int], pixels: np.ndarray,
                 stats: Stats, result: FrameResult, band: bool = True) -> np.ndarray:
    """The frame with its crop box, the model-input inset and the timing; with ``band``,
    above a band with the top 3 and confidence bars (below it: never over the object)."""
    h, w = frame.shape[:2]
    scale = text_scale(w)
    row = int(round(40 * scale)) + 4
    out = np.zeros((h + (3 * row + 6 if band else 0), w, 3), np.uint8)
    out[:h] = frame
    x0, y0, x1, y1 = box
    cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), (0, 200, 255), 1)
    side = max(28, min(56, h // 4))
    inset = cv2.resize(pixels if pixels.shape[2] == 3 else pixels[:, :, 0], (side, side),
                       interpolation=cv2.INTER_NEAREST)
    if inset.ndim == 2:
        inset = cv2.cvtColor(inset, cv2.COLOR_GRAY2BGR)
    out[h - side - 2:h - 2, w - side - 2:w - 2] = inset
    put_text(out, stats.line(), (4, h - 6), scale * 0.9, (0, 200, 255), right=w - side - 6)
    if band:
        bar_x, bar_w = w // 2, w // 2 - 8
        for i, (k, p) in enumerate(result.top):
            y = h + row * (i + 1)
            colour = (80, 255, 80) if i == 0 else (220, 220, 220)
            cv2.rectangle(out, (bar_x, y - row + 8), (bar_x + int(bar_w * p), y - 2), colour,
                          -1)
            put_text(out, f"{stats.labels[k]} {100 * p:.1f}%", (6, y - 4), scale, colour,
                     right=bar_x - 4)
    return out


def run(classifier: Classifier, source: FrameSource, display: Display, pre: Preprocess,
        frames: int | None = None, max_fps: float | None = None,
        on_result: Callable[[FrameResult, dict], None] | None = None) -> list[FrameResult]:
    """Classify frames until the source ends, ``frames`` are done or the display closes
    (see loop.run_loop for ``max_fps`` and ``on_result``)."""
    stats = Stats(classifier.labels)

    def process(index: int, frame: np.ndarray) -> tuple[FrameResult, np.ndarray]:
        pixels = pre(frame)
        probs, inference_s = classifier(pixels)
        best = np.argsort(-probs)[:3]
        result = FrameResult(index, [(int(k), float(probs[k])) for k in best], source.truth,
                             inference_s, 0.0)
        return result, draw_overlay(frame, pre.box(frame.shape), pixels, stats, result,
                                    band=not display.shows_stats)

    return run_loop(process, source, display, stats, stats.describe, frames, max_fps, on_result)
