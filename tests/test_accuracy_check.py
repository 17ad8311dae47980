"""``bnn-export --test``: a labelled test set through the generated C, checked
against the golden model; and its errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import bnnkit
from bnnkit import golden
from bnnkit.cli.export_cmd import main as bnn_export
from bnnkit.errors import DataFileError, InputShapeError
from bnnkit.runtime import CModel
from bnnkit.runtime.accuracy import check_accuracy, load_labelled, model_inputs

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "digits_bnn.pt"
EXAMPLE_TEST = REPO / "examples" / "digits_test.npz"
FASHION = REPO / "demos" / "classification" / "models" / "fashion.pt"
FASHION_TEST = REPO / "demos" / "classification" / "data" / "fashion_test200.npz"


@pytest.fixture(scope="module")
def digits_project(tmp_path_factory) -> Path:  # noqa: ANN001
    out = tmp_path_factory.mktemp("digits") / "digits"
    assert bnn_export([str(EXAMPLE), "-o", str(out), "--no-build"]) == 0
    return out


def test_cli_prints_the_accuracy_the_golden_model_gets(tmp_path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "digits"
    assert bnn_export([str(EXAMPLE), "-o", str(out), "--test", str(EXAMPLE_TEST)]) == 0
    printed = capsys.readouterr().out
    data = np.load(EXAMPLE_TEST)
    expected = np.mean(golden.run(bnnkit.export(EXAMPLE), data["images"]).argmax(1) ==
                       data["labels"])
    match = re.search(r"([\d.]+)% top-1 on (\d+) images", printed)
    assert match, printed
    assert float(match.group(1)) == pytest.approx(100 * expected, abs=0.005)
    assert int(match.group(2)) == len(data["labels"])
    assert "equals the golden model on all of them" in printed
    assert re.search(r"[\d.]+ ms per image", printed)


def test_uint8_pixels_for_a_model_that_normalizes(tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "fashion"
    assert bnn_export([str(FASHION), "-o", str(out), "--no-build"]) == 0
    images, labels = load_labelled(FASHION_TEST)
    assert images.dtype == np.uint8 and images.ndim == 3
    report = check_accuracy(CModel(out), images, labels)
    assert report.images == 200 and report.golden_mismatches == 0
    assert report.accuracy >= 0.88          # 92.5% when measured


def test_a_c_output_off_by_one_is_reported(digits_project, monkeypatch) -> None:  # noqa: ANN001
    model = CModel(digits_project)
    images, labels = load_labelled(EXAMPLE_TEST)
    seventh = model_inputs(model, images)[7]
    run_int = model.run_int

    def off_by_one_on_the_seventh(q: np.ndarray) -> np.ndarray:
        out = run_int(q)
        if np.array_equal(q[0], seventh):
            out = out.copy()
            out.flat[0] += 1
        return out

    monkeypatch.setattr(model, "run_int", off_by_one_on_the_seventh)
    report = check_accuracy(model, images, labels)
    assert report.golden_mismatches == 1
    assert "DIFFERS from the golden model on 1" in "\n".join(report.lines(EXAMPLE_TEST))


def test_bad_test_sets_are_named(digits_project, tmp_path, capsys) -> None:  # noqa: ANN001
    not_npz = tmp_path / "notes.txt"
    not_npz.write_text("hello")
    no_labels = tmp_path / "no_labels.npz"
    np.savez(no_labels, images=np.zeros((3, 1, 8, 8), np.float32))
    for path, words in ((not_npz, "not an .npz archive"), (no_labels, "no labels array"),
                        (tmp_path / "missing.npz", "no such file")):
        with pytest.raises(DataFileError, match=words):
            load_labelled(path)
        assert bnn_export([str(EXAMPLE), "-o", str(tmp_path / "never"),
                           "--test", str(path)]) == DataFileError.exit_code
        assert words in capsys.readouterr().err
        assert not (tmp_path / "never").exists(), "exported before reading the test set"
    model = CModel(digits_project)
    labels = np.zeros(3, np.int64)
    with pytest.raises(InputShapeError, match=r"takes \(N, 1, 8, 8\)"):
        check_accuracy(model, np.zeros((3, 1, 9, 8), np.float32), labels)
    with pytest.raises(InputShapeError, match="normalize"):
        check_accuracy(model, np.zeros((3, 8, 8), np.uint8), labels)
    with pytest.raises(InputShapeError, match="3 images but 2 labels"):
        check_accuracy(model, np.zeros((3, 1, 8, 8), np.float32), labels[:2])
