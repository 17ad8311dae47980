"""Write the small test-image sets shipped with the demo (data/<name>_test200.npz).

    python -m bnnkit.demos.classification.testsets

20 images per class, drawn with a fixed seed from each model's test split
(Fashion-MNIST's 10k test set; the held-out grid rows of digits.png, drawn
into 28x28 like the model's input). White on black, uint8 (200, 28, 28),
labels int64. Used by ``--source synthetic`` and the tests.
"""

from __future__ import annotations

import numpy as np

from .presets import DATA


def pick(labels: np.ndarray, per_class: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                          for c in range(10)])
    return rng.permutation(idx)


def main() -> None:
    from .augment import render_clean
    from .datasets import load_fashion
    from .train_digits import split
    DATA.mkdir(exist_ok=True)
    images, labels = load_fashion("test")
    idx = pick(labels)
    np.savez_compressed(DATA / "fashion_test200.npz", images=images[idx], labels=labels[idx],
                        source_index=idx)
    _, _, cells, labels = split()
    idx = pick(labels)
    np.savez_compressed(DATA / "digits_test200.npz", images=render_clean(cells[idx]),
                        labels=labels[idx], source_index=idx)
    for p in sorted(DATA.glob("*_test200.npz")):
        print(f"{p} {p.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
