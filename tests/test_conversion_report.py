"""What bnn-export reports about the conversion: --test's three accuracies and
agreement (with a warning when PyTorch and C part ways), and --compare."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import bnnkit
from bnnkit import golden
from bnnkit.cli.export_cmd import main as bnn_export
from bnnkit.export.modelfile import load

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "digits_bnn.pt"
EXAMPLE_TEST = REPO / "examples" / "digits_test.npz"


def percent(name: str, text: str) -> float:
    match = re.search(rf"{name}\s+([\d.]+)%", text)
    assert match, text
    return float(match.group(1))


def test_test_prints_pytorch_golden_and_c(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = bnn_export([str(EXAMPLE), "-o", str(tmp_path / "d"), "--no-build", "--test",
                         str(EXAMPLE_TEST)])
    out = capsys.readouterr().out
    assert rc == 0, out
    data = np.load(EXAMPLE_TEST)
    with torch.no_grad():
        theirs = load(EXAMPLE).program.module()(torch.from_numpy(data["images"])).numpy()
    ours = golden.run(bnnkit.export(EXAMPLE), data["images"])
    assert percent(r"PyTorch \(model file\)", out) == pytest.approx(
        100 * np.mean(theirs.argmax(1) == data["labels"]), abs=0.005)
    assert percent("golden model", out) == pytest.approx(
        100 * np.mean(ours.argmax(1) == data["labels"]), abs=0.005)
    assert percent("generated C", out) == percent("golden model", out)
    agree = re.search(r"same top-1 on ([\d.]+)% of the images, largest output difference "
                      r"([\d.]+) \(([\d.]+) LSB\)", out)
    assert agree, out
    assert float(agree.group(1)) == pytest.approx(
        100 * np.mean(theirs.argmax(1) == ours.argmax(1)), abs=0.05)
    assert float(agree.group(2)) == pytest.approx(np.abs(theirs - ours).max(), rel=2e-3)
    assert not [w for w in caught if "agree" in str(w.message)]


def test_poor_agreement_is_a_warning(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """Calibrated on inputs a hundredth of the real ones, every INT8 range is far too
    small: PyTorch and C part ways, and bnn-export says so."""
    images = np.load(EXAMPLE_TEST)["images"]
    np.save(tmp_path / "cal.npy", images[:64] / 100)
    with pytest.warns(UserWarning, match=r"agree on top-1 for only [\d.]+% of the test set "
                                         r"\(below 99%\).*--compare"):
        rc = bnn_export([str(EXAMPLE), "-o", str(tmp_path / "d"), "--no-build", "--test",
                         str(EXAMPLE_TEST), "--calibration", str(tmp_path / "cal.npy")])
    assert rc == 0  # C still equals golden: a warning, not a failure
    assert "equals the golden model on all of them" in capsys.readouterr().out


def test_compare_cli(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    plot = tmp_path / "layers.png"
    assert bnn_export([str(EXAMPLE), "--compare", str(EXAMPLE_TEST), "--plot", str(plot),
                       "-q"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["#", "node", "op"]
    assert re.match(r"1\s+conv2d\s+conv_i8 bits\s+[\d.]+% signs", lines[2]), out
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert bnn_export([str(EXAMPLE), "--compare", "-q"]) == 0   # the calibration sample
    assert "conv_i8" in capsys.readouterr().out


def test_compare_needs_the_pytorch_model(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert bnn_export([str(EXAMPLE), "--ir-only", "-o", str(tmp_path / "ir"), "-q"]) == 0
    capsys.readouterr()
    assert bnn_export([str(tmp_path / "ir"), "--compare", str(EXAMPLE_TEST)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "IR directory" in err and "model.pt" in err
