"""Re-create examples/digits_bnn.pt: the quickstart's BNN, trained on sklearn's digits.

    python examples/make_digits_example.py        # about 30 s on 2 cores

The model, data split and training are examples/quickstart.py's (seeded, so
the file comes out the same each time); this script stores the result and
the held-out digits beside it as the bundled example.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from quickstart import digits_split, train  # examples/ is on sys.path when run as a script

import bnnkit

HERE = Path(__file__).resolve().parent


def main() -> None:
    model, accuracy = train()
    x_train, _, x_test, y_test = digits_split()
    print(f"PyTorch BNN test accuracy: {accuracy:.1%} on {len(x_test)} held-out digits")
    bnnkit.save(model, HERE / "digits_bnn.pt", x_train[:1], calibration=x_train[:256],
                labels=[str(i) for i in range(10)])
    np.savez_compressed(HERE / "digits_test.npz", images=x_test.numpy(),
                        labels=y_test.numpy())
    print(f"wrote {HERE / 'digits_bnn.pt'} and {HERE / 'digits_test.npz'}")


if __name__ == "__main__":
    main()
