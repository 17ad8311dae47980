"""Every accepted model source exports to the same graph as bnnkit.save's file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import bnnkit
from bnnkit import golden
from bnnkit.cli.export_cmd import main as bnn_export

from .fixtures.archs import small_net
from .models import randomize_batchnorm


@pytest.fixture()
def model_and_input():  # noqa: ANN201
    torch.manual_seed(0)
    return randomize_batchnorm(small_net()), torch.randn(8, 1, 6, 6)


def _same(a, b, x: torch.Tensor) -> None:  # noqa: ANN001
    np.testing.assert_array_equal(golden.run(a, x.numpy()), golden.run(b, x.numpy()))


def test_exported_program_file(model_and_input, tmp_path: Path) -> None:  # noqa: ANN001
    model, x = model_and_input
    path = tmp_path / "prog.pt2"
    torch.export.save(torch.export.export(model, (x[:1],)), path)
    _same(bnnkit.export(path, calibration=x), bnnkit.export(model, x[:1], calibration=x), x)


def test_state_dict_with_arch(model_and_input, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    model, x = model_and_input
    path = tmp_path / "weights.pth"
    torch.save(model.state_dict(), path)
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1]))
    graph = bnnkit.export(path, x[:1], calibration=x, arch="tests.fixtures.archs:small_net")
    _same(graph, bnnkit.export(model, x[:1], calibration=x), x)
    with pytest.raises(bnnkit.errors.ModelFileError, match="package.module:factory"):
        bnnkit.export(path, x[:1], arch="no_colon")


def test_whole_pickle_only_with_trust(model_and_input, tmp_path: Path,  # noqa: ANN001
                                      capsys) -> None:  # noqa: ANN001
    model, x = model_and_input
    path = tmp_path / "whole.pt"
    torch.save(model, path)
    assert bnn_export([str(path), "--ir-only", "-o", str(tmp_path / "ir")]) != 0
    assert "--trust-pickle" in capsys.readouterr().err
    code = bnn_export([str(path), "--ir-only", "-o", str(tmp_path / "ir"), "--trust-pickle",
                       "--input-shape", "1,1,6,6"])
    assert code == 0 and (tmp_path / "ir" / "graph.json").is_file()
