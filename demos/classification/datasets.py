"""Where the training and test images come from (numpy only, no torch).

* Fashion-MNIST: Debian package ``dataset-fashion-mnist`` (IDX files under
  ``/usr/share/datasets/fashion-mnist/``), 60k train / 10k test, 28x28.
* Handwritten digits: ``digits.png`` from Debian ``opencv-doc`` (5000 digits
  of 20x20 in a 100x50 grid: 50 rows of 100 digits, 5 rows per class).
  ``python -m bnnkit.demos.classification.datasets --fetch-digits`` extracts
  it into ``~/.cache/bnnkit/data/`` without installing the whole package.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ...errors import BnnkitError

FASHION_DIR = Path(os.environ.get("BNNKIT_FASHION_DIR", "/usr/share/datasets/fashion-mnist"))
FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                  "Sneaker", "Bag", "Ankle boot"]
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530
DIGITS_LABELS = [str(i) for i in range(10)]
CACHE = Path(os.environ.get("BNNKIT_CACHE", Path.home() / ".cache" / "bnnkit"))
DIGITS_PNG_PLACES = (CACHE / "data" / "digits.png",
                     Path("/usr/share/doc/opencv-doc/examples/data/digits.png"))


class DatasetMissingError(BnnkitError):
    """A dataset package is not installed."""

    exit_code = 7


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels int64 (N,)) for split "train" or "test"."""
    prefix = {"train": "train", "test": "t10k"}[split]
    images = FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz"
    if not images.exists():
        raise DatasetMissingError(f"{images} not found: install Fashion-MNIST with "
                                  f"`apt-get install dataset-fashion-mnist`")
    labels = _read_idx(FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz")
    return _read_idx(images), labels.astype(np.int64)


def digits_png_path() -> Path:
    for p in DIGITS_PNG_PLACES:
        if p.exists():
            return p
    raise DatasetMissingError(
        "digits.png not found: run `python -m bnnkit.demos.classification.datasets "
        "--fetch-digits` (extracts it from Debian's opencv-doc package) or "
        "`apt-get install opencv-doc`")


def fetch_digits_png() -> Path:
    """Extract examples/data/digits.png from the opencv-doc .deb into the cache."""
    target = DIGITS_PNG_PLACES[0]
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", "opencv-doc"], cwd=tmp, check=True)
        deb = next(Path(tmp).glob("opencv-doc_*.deb"))
        tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", tmp, "--wildcards", "*/digits.png"],
                       stdin=tar.stdout, check=True)
        tar.wait()
        found = next(Path(tmp).rglob("digits.png"))
        shutil.copyfile(found, target)
    return target


def load_digits_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 (5000, 20, 20) white ink on black, labels, grid row 0..49)."""
    import cv2
    img = cv2.imread(str(digits_png_path()), cv2.IMREAD_GRAYSCALE)
    if img is None or img.shape != (1000, 2000):
        raise DatasetMissingError(f"{digits_png_path()}: not the 2000x1000 digits.png")
    cells = img.reshape(50, 20, 100, 20).transpose(0, 2, 1, 3)   # row, col, 20, 20
    rows = np.repeat(np.arange(50), 100)
    return cells.reshape(5000, 20, 20), rows // 5, rows


if __name__ == "__main__":
    if sys.argv[1:] == ["--fetch-digits"]:
        print(fetch_digits_png())
    else:
        print(__doc__)
