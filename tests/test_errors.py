"""Bad input gets a clear error that names the problem and what to do."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import bnnkit
from bnnkit import golden, ir
from bnnkit.cli.export_cmd import main as bnn_export
from bnnkit.errors import InputShapeError, IRFormatError, ModelFileError, UnsupportedModelError
from bnnkit.ir.atomic import MARKER
from bnnkit.nn import ABCConv2d, Sign, TernaryConv2d

from .models import small_model_file


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:  # noqa: ANN001
    return small_model_file(tmp_path_factory.mktemp("m") / "model.pt")


def test_truncated_model_file(saved, tmp_path) -> None:  # noqa: ANN001
    data = saved.read_bytes()
    bad = tmp_path / "cut.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a bnnkit model file"):
        bnnkit.export(bad)


def test_corrupt_member_in_model_file(saved, tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "corrupt.pt"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[:40] if item.filename.endswith("tensors.npz") else data)
    with pytest.raises(ModelFileError, match="damaged model file"):
        bnnkit.export(bad)


def test_foreign_pickle_is_refused_without_trust(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "whole.pt"
    torch.save(nn.Linear(2, 2), path)
    with pytest.raises(ModelFileError, match="--trust-pickle"):
        bnnkit.export(path)


def test_ir_wrong_version_and_damage(saved, tmp_path) -> None:  # noqa: ANN001
    graph = bnnkit.export(saved)
    d = ir.save(graph, tmp_path / "ir")
    assert ir.load(d).nodes[0].op == graph.nodes[0].op
    doc = json.loads((d / "graph.json").read_text())
    doc["version"] = 99
    (d / "graph.json").write_text(json.dumps(doc))
    with pytest.raises(IRFormatError, match="version 99"):
        ir.load(d)
    doc["version"], doc["format"] = ir.VERSION, "onnx"
    (d / "graph.json").write_text(json.dumps(doc))
    with pytest.raises(IRFormatError, match="not a bnnkit IR"):
        ir.load(d)
    ir.save(graph, d)
    (d / "weights.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(IRFormatError, match="damaged weights"):
        ir.load(d)


def test_ir_validation_catches_dangling_input(saved) -> None:  # noqa: ANN001
    graph = bnnkit.export(saved)
    broken = graph.with_(nodes=(graph.nodes[0].with_(inputs=("nowhere",)),) + graph.nodes[1:])
    assert any("nowhere" in p for p in ir.validate(broken))


def test_wrong_input_shape(saved) -> None:  # noqa: ANN001
    graph = bnnkit.export(saved)
    with pytest.raises(InputShapeError, match=r"takes \(N, 1, 6, 6\)"):
        golden.run(graph, np.zeros((2, 1, 7, 6)))


def test_unsupported_op_names_op_and_place() -> None:
    class Model(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(x)

    with pytest.raises(UnsupportedModelError, match=r"sigmoid.*test_errors.py.*Supported:"):
        bnnkit.export(Model(), torch.randn(1, 3, 4, 4))


def test_cli_reports_errors_in_one_line(tmp_path, capsys) -> None:  # noqa: ANN001
    bad = tmp_path / "x.pt"
    bad.write_text("hello")
    assert bnn_export([str(bad), "--ir-only"]) == ModelFileError.exit_code
    err = capsys.readouterr().err
    assert "bnn-export: error:" in err and "Traceback" not in err


def test_cli_ir_only_inspect_and_atomic_overwrite(saved, tmp_path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "ir"
    assert bnn_export([str(saved), "--ir-only", "-o", str(out)]) == 0
    marker = json.loads((out / MARKER).read_text())   # a file the last export wrote
    (out / MARKER).write_text(json.dumps({**marker, "files": [*marker["files"], "stale.txt"]}))
    (out / "stale.txt").write_text("old")
    assert bnn_export([str(saved), "--ir-only", "-o", str(out)]) == 0
    assert not (out / "stale.txt").exists(), "the old directory was not replaced whole"
    assert bnn_export(["--inspect", str(out)]) == 0
    table = capsys.readouterr().out
    assert "bconv" in table and "total" in table


def test_identity_model_is_refused() -> None:
    with pytest.raises(UnsupportedModelError, match="the model computes nothing"):
        bnnkit.export(nn.Sequential(nn.Dropout(0.2)), torch.randn(1, 3, 4, 4))
    # only the input's sign: it is the C's bits input encoding, nothing is left
    with pytest.raises(UnsupportedModelError, match="computes nothing but the sign"):
        bnnkit.export(nn.Sequential(Sign()), torch.randn(1, 3, 4, 4))


def test_batchnorm_after_sign_says_where_it_goes() -> None:
    with pytest.raises(UnsupportedModelError, match=r"affine on binary activations .*"
                       r"move it before the Sign.* at 1 \(BatchNorm2d\)"):
        bnnkit.export(nn.Sequential(Sign(), nn.BatchNorm2d(3)).eval(), torch.randn(1, 3, 4, 4))


def test_refused_dilation_and_pool_padding_name_op_place_and_alternative() -> None:
    x = torch.randn(1, 3, 8, 8)
    with pytest.raises(UnsupportedModelError, match=r"dilated real-valued \(int8\) "
                       r"convolution .*dilate a BinaryConv2d.* at .*Conv2d"):
        bnnkit.export(nn.Sequential(nn.Conv2d(3, 4, 3, dilation=2)).eval(), x)
    with pytest.raises(UnsupportedModelError, match=r"F.pad with value 0.0 before a max-pool "
                       r"\(exact only with -inf, or 0 after a ReLU\) at .*MaxPool2d"):
        bnnkit.export(nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.MaxPool2d(2)).eval(), x)
    with pytest.raises(UnsupportedModelError, match=r"average pool counting some of its "
                       r"padding but not all.*use count_include_pad=False without F.pad"):
        bnnkit.export(nn.Sequential(nn.AvgPool2d(3, 2, padding=1, ceil_mode=True)).eval(), x)


def test_abc_conv_after_sign_names_the_layer() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), Sign(), ABCConv2d(4, 4, 3))
    with pytest.raises(UnsupportedModelError, match=r"activation bases.*drop the Sign before "
                       r"it at 3.input_sign \(Sign\)"):
        bnnkit.export(model.eval(), torch.randn(1, 3, 8, 8))


def test_ternary_conv_padded_with_one_on_int8_names_layer_and_alternative() -> None:
    model = nn.Sequential(nn.ConstantPad2d(1, 1.0), TernaryConv2d(3, 4, 3))
    with pytest.raises(UnsupportedModelError, match=r"ternary conv padded with 1.0; .*"
                       r"TernaryConv2d\(input_sign=Sign\(\)\).* at 1 \(TernaryConv2d\)"):
        bnnkit.export(model.eval(), torch.randn(1, 3, 8, 8))
