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
from ...golden.interpreter import dequantize
from ...runtime import CModel
from ..display import Display
from ..loop import Timing, run_loop
from ..sources import FrameSource
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
                 stats: Stats, result: FrameResult) -> np.ndarray:
    """Crop box, model-input inset, top-3 with confidence bars, FPS and latencies."""
    out = frame.copy()
    h, w = out.shape[:2]
    x0, y0, x1, y1 = box
    cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), (0, 200, 255), 1)
    inset = cv2.resize(pixels if pixels.shape[2] == 3 else pixels[:, :, 0], (56, 56),
                       interpolation=cv2.INTER_NEAREST)
    if inset.ndim == 2:
        inset = cv2.cvtColor(inset, cv2.COLOR_GRAY2BGR)
    out[h - 58:h - 2, w - 58:w - 2] = inset
    scale = max(0.4, min(w, 640) / 800)
    panel = out[0:18 + 22 * 4, 0:min(w, 260)]
    panel[:] = (panel * 0.35).astype(np.uint8)
    for i, (k, p) in enumerate(result.top):
        y = 18 + 22 * i
        colour = (80, 255, 80) if i == 0 else (220, 220, 220)
        cv2.rectangle(out, (150, y - 11), (150 + int(100 * p), y + 3), colour, -1)
        cv2.putText(out, f"{stats.labels[k][:12]} {100 * p:4.1f}%", (6, y),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
    cv2.putText(out, stats.line(), (6, 18 + 22 * 3), cv2.FONT_HERSHEY_SIMPLEX, scale * 0.9,
                (0, 200, 255), 1, cv2.LINE_AA)
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
        return result, draw_overlay(frame, pre.box(frame.shape), pixels, stats, result)

    return run_loop(process, source, display, stats, stats.describe, frames, max_fps, on_result)
