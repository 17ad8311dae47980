"""Training smoke test: the example BNN learns sklearn digits in a few hundred
steps, and its export agrees with PyTorch."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

import bnnkit
from bnnkit import golden

EXAMPLE = Path(__file__).parents[1] / "examples" / "quickstart.py"  # model, data, training


def _example():  # noqa: ANN202 - the example script as a module
    spec = importlib.util.spec_from_file_location("quickstart", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_bnn_learns_digits_and_exports_faithfully(tmp_path: Path) -> None:
    example = _example()
    model, accuracy = example.train(steps=300)
    assert accuracy > 0.8, f"only {accuracy:.1%} after 300 steps (chance is 10%)"

    x_train, _, x_test, _ = example.digits_split()
    path = bnnkit.save(model, tmp_path / "digits.pt", x_train[:1], calibration=x_train[:256],
                       labels=[str(i) for i in range(10)])
    graph = bnnkit.export(path)
    with torch.no_grad():
        torch_pred = model(x_test).argmax(1).numpy()
    golden_pred = golden.run(graph, x_test.numpy()).argmax(1)
    agreement = float(np.mean(golden_pred == torch_pred))
    # 300 steps leave small margins, so INT8 rounding of the stem flips a few,
    # and multi-threaded training varies from run to run (96.98% to 98.2%
    # seen); a folding bug costs far more. The 99% bar is on the trained
    # example below.
    assert agreement >= 0.95, f"golden and PyTorch agree on top-1 for only {agreement:.1%}"
    assert graph.meta["labels"] == [str(i) for i in range(10)]


def test_trained_example_agrees_on_99_percent_of_real_digits() -> None:
    example = EXAMPLE.parent
    data = np.load(example / "digits_test.npz")
    graph = bnnkit.export(example / "digits_bnn.pt")
    program = bnnkit.export.modelfile.load(example / "digits_bnn.pt").program
    with torch.no_grad():
        torch_pred = program.module()(torch.from_numpy(data["images"])).argmax(1).numpy()
    golden_pred = golden.run(graph, data["images"]).argmax(1)
    agreement = float(np.mean(golden_pred == torch_pred))
    assert agreement >= 0.99, f"top-1 agreement {agreement:.1%} on {len(torch_pred)} digits"
