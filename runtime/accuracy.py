"""Classify a labelled test set with the generated C: accuracy, agreement with
the golden model and time per image, the check a user runs after exporting.

A test set is an ``.npz`` with ``images`` and ``labels`` (N integers).
``images`` are what the PyTorch model takes (float, N x C x H x W or N x F),
or, for a model saved with ``normalize=``, raw uint8 pixels (N x H x W or
N x H x W x C), which is what a camera gives the C model.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataFileError, InputShapeError
from .cmodel import CModel

AGREEMENT_WARNING = 0.99  # top-1 agreement with PyTorch below this is worth a warning


@dataclass(frozen=True)
class Agreement:
    """The C outputs against the PyTorch model's on the same images."""

    correct: int                    # PyTorch's top-1 hits
    top1: float                     # share of images where C's top-1 is PyTorch's
    largest_difference: float       # max |C - PyTorch| over every output, in output units
    output_step: float | None       # one output LSB (int8 outputs), for scale


@dataclass(frozen=True)
class AccuracyReport:
    images: int
    correct: int
    golden_correct: int
    golden_mismatches: int          # images whose output differs in any bit from the golden model
    ms_per_image: float             # median, one image per call through cffi
    scores: np.ndarray              # the C model's dequantized outputs, (N, classes)
    output_step: float | None

    @property
    def accuracy(self) -> float:
        return self.correct / self.images

    def against(self, reference: np.ndarray, labels: np.ndarray) -> Agreement:
        """Compare with another model's outputs (PyTorch's) on the same images."""
        reference = np.asarray(reference).reshape(self.images, -1)
        return Agreement(int((reference.argmax(1) == labels).sum()),
                         float(np.mean(reference.argmax(1) == self.scores.argmax(1))),
                         float(np.max(np.abs(reference - self.scores))), self.output_step)

    def lines(self, path: Path, torch: Agreement | None = None) -> list[str]:
        golden = ("equals the golden model on all of them" if not self.golden_mismatches else
                  f"DIFFERS from the golden model on {self.golden_mismatches}")
        n = self.images
        lines = [f"  test set {path}: {n} images, top-1 accuracy"]
        if torch is not None:
            lines.append(f"    PyTorch (model file)  {torch.correct / n:.2%}")
        lines += [f"    golden model          {self.golden_correct / n:.2%}",
                  f"    generated C           {self.accuracy:.2%} top-1 on {n} images, {golden}"]
        if torch is not None:
            step = (f" ({torch.largest_difference / torch.output_step:.1f} LSB)"
                    if torch.output_step else "")
            lines.append(f"  C vs PyTorch: same top-1 on {torch.top1:.1%} of the images, largest "
                         f"output difference {torch.largest_difference:.3g}{step}")
        lines.append(f"  {self.ms_per_image:.3f} ms per image (median, one image per call, "
                     f"through cffi)")
        return lines


def load_labelled(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise DataFileError(f"{path}: not an .npz archive; save the test set with "
                            f"np.savez(path, images=..., labels=...)")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = {"images", "labels"} - set(data.files)
            if missing:
                raise DataFileError(f"{path}: no {' or '.join(sorted(missing))} array (it has "
                                    f"{', '.join(data.files) or 'none'}); save it with "
                                    f"np.savez(path, images=..., labels=...)")
            images, labels = data["images"], data["labels"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataFileError(f"{path}: not a readable .npz ({' '.join(str(e).split())}); save "
                            f"it with np.savez(path, images=..., labels=...)") from None
    problem = _test_set_problem(images, labels.ravel())
    if problem:
        raise DataFileError(f"{path}: {problem}")
    return images, labels.astype(np.int64).ravel()


def _test_set_problem(images: np.ndarray, labels: np.ndarray) -> str | None:
    if images.dtype.kind not in "biuf" or images.ndim < 2:
        return (f"images are {images.dtype} of shape {images.shape}; give N float inputs "
                f"shaped like the model's or N uint8 pixel images")
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        return "images hold NaN or Inf values"
    if labels.dtype.kind not in "biuf" or len(labels) != len(images):
        return (f"labels are {labels.dtype} of shape {labels.shape}; give one integer class "
                f"per image ({len(images)})")
    if len(labels) == 0:
        return "no images"
    if labels.dtype.kind == "f" and not (np.isfinite(labels).all()
                                         and (labels == np.round(labels)).all()):
        return "labels must be whole class numbers; some are fractional, NaN or Inf"
    if labels.min() < 0:
        return f"label {labels.min()} is negative; labels are class numbers 0, 1, ..."
    return None


def check_label_range(labels: np.ndarray, classes: int, path: Path) -> None:
    """Labels must name one of the model's ``classes`` outputs."""
    if labels.max() >= classes:
        raise DataFileError(f"{path}: label {labels.max()} is out of range: the model has "
                            f"{classes} outputs (classes 0..{classes - 1})")


def model_inputs(model: CModel, images: np.ndarray) -> np.ndarray:
    """The C input tensor's raw values (N, H, W, C) for float images or uint8 pixels.

    Shapes are checked where every input is: quantize_input for float images,
    CModel.run_int for pixels."""
    from ..golden.interpreter import quantize_input

    if images.dtype != np.uint8:
        return quantize_input(model.graph, images.astype(np.float64))
    if model.input.dtype != "uint8":
        raise InputShapeError("uint8 pixels are for models saved with normalize=(mean, "
                              "std); this one takes float inputs like the PyTorch model")
    return images[..., None] if images.ndim == 3 else images


def check_accuracy(model: CModel, images: np.ndarray, labels: np.ndarray,
                   progress: bool = False) -> AccuracyReport:
    """Run every image through the C model one at a time, beside the golden model."""
    from ..golden.interpreter import dequantize_output, run_int

    if len(images) != len(labels) or not len(labels):
        raise InputShapeError(f"{len(images)} images but {len(labels)} labels")
    q = model_inputs(model, images)
    rows: Iterable[int] = range(len(q))
    if progress:
        from ..progress import bar
        rows = bar(rows, "test set", "image")
    outputs, seconds = [], []
    for i in rows:
        t0 = time.perf_counter()
        outputs.append(model.run_int(q[i:i + 1]))
        seconds.append(time.perf_counter() - t0)
    c_raw = np.concatenate(outputs)
    golden_raw = run_int(model.graph, q)
    differs = (c_raw != golden_raw).reshape(len(q), -1).any(axis=1)
    scores = dequantize_output(model.graph, c_raw).reshape(len(q), -1)
    golden = dequantize_output(model.graph, golden_raw).reshape(len(q), -1)
    quant = model.output.quant
    return AccuracyReport(images=len(q), correct=int((scores.argmax(1) == labels).sum()),
                          golden_correct=int((golden.argmax(1) == labels).sum()),
                          golden_mismatches=int(differs.sum()),
                          ms_per_image=float(np.median(seconds) * 1e3), scores=scores,
                          output_step=quant.scale if quant else None)
