"""The shipped models: files, test sets and preprocessing defaults (no torch)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"
DATA = HERE / "data"


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    invert: bool          # preprocessing defaults for a camera
    autocontrast: bool
    paper: bool           # synthetic frames drawn dark-on-light like paper
    data: str             # the data set: "fashion" or "digits"
    train: str            # the training script's module and options

    @property
    def model(self) -> Path:
        return MODELS / f"{self.name}.pt"

    @property
    def testset(self) -> Path:
        return DATA / f"{self.data}_test200.npz"

    def test_images(self) -> tuple[np.ndarray, np.ndarray]:
        """200 test images (uint8 (N, 28, 28), white on black) and their labels."""
        with np.load(self.testset) as z:
            return z["images"], z["labels"]


PRESETS = {
    "fashion": Preset("fashion", "Fashion-MNIST", invert=False, autocontrast=False,
                      paper=False, data="fashion", train="train_fashion"),
    "digits": Preset("digits", "handwritten digits on paper", invert=True, autocontrast=True,
                     paper=True, data="digits", train="train_digits"),
    "fashion_bireal": Preset("fashion_bireal", "Fashion-MNIST, Bi-Real shortcuts", invert=False,
                             autocontrast=False, paper=False, data="fashion",
                             train="train_fashion --net fashion_bireal --init fashion"),
}
