"""The per-layer report (bnn-export --compare) points at the layer that loses accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from bnnkit.export import compare
from bnnkit.export.frontend import from_exported
from bnnkit.export.modelfile import _trace
from bnnkit.export.passes import calibrate, quantize
from bnnkit.export.pipeline import simplify
from bnnkit.nn import BinaryConv2d, BinaryLinear

from .models import randomize_batchnorm


def real_then_binary() -> nn.Sequential:
    """Two INT8 convs, a conv whose sign folds in, a binary body and an INT8 head."""
    torch.manual_seed(1)
    return randomize_batchnorm(nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 24, 3, stride=2, padding=1), nn.BatchNorm2d(24),
        BinaryConv2d(24, 32, 3, padding=1), nn.BatchNorm2d(32),
        nn.Flatten(), BinaryLinear(32 * 4 * 4, 6), nn.BatchNorm1d(6)), negative=False)


def export_with_ranges(program, x: np.ndarray, shrink: str | None = None):  # noqa: ANN001, ANN201
    """Calibrate on ``x``; with ``shrink``, that tensor's range is cut to a twentieth,
    as a calibration sample that missed its large values would leave it."""
    cal = calibrate(simplify(from_exported(program)), x)
    if shrink is not None:
        ranges = dict(cal.meta["ranges"])
        ranges[shrink] = [v / 20 for v in ranges[shrink]]
        cal = cal.with_(meta={**cal.meta, "ranges": ranges})
    return quantize(cal)


@pytest.fixture(scope="module")
def setup():  # noqa: ANN201
    model = real_then_binary()
    x = torch.randn(48, 3, 8, 8)
    program = _trace(model, x[:1])
    return program, x.numpy()


def int8_layers(graph) -> list[str]:  # noqa: ANN001
    return [n.name for n in graph.nodes if graph.tensors[n.outputs[0]].dtype == "int8"]


def test_well_calibrated_model_is_close_everywhere(setup) -> None:  # noqa: ANN001
    program, x = setup
    graph = export_with_ranges(program, x)
    rows = compare.layer_errors(program, graph, x)
    assert {r.node for r in rows} >= set(int8_layers(graph))
    for r in rows:
        assert r.alone is not None
        if r.dtype == "int8":
            assert r.alone.measure < 1.0 and r.alone.snr_db > 25, r  # rounding only
        else:
            assert r.alone.measure < 0.01, r
    text = compare.table(rows)
    assert text.splitlines()[0].split()[:3] == ["#", "node", "op"]
    assert all(r.node in text for r in rows)


def test_badly_calibrated_layer_comes_first(setup) -> None:  # noqa: ANN001
    program, x = setup
    names = int8_layers(export_with_ranges(program, x))
    assert len(names) >= 3
    for name in names:
        graph = export_with_ranges(program, x, shrink=graph_tensor(program, x, name))
        rows = compare.layer_errors(program, graph, x)
        assert rows[0].node == name, compare.table(rows)
        assert rows[0].alone.snr_db < 15
        assert rows[0].source.split(" (")[1].startswith(("Conv2d", "BinaryLinear"))


def graph_tensor(program, x: np.ndarray, node: str) -> str:  # noqa: ANN001
    graph = export_with_ranges(program, x)
    return next(n.outputs[0] for n in graph.nodes if n.name == node)


def test_plot_is_written(setup, tmp_path) -> None:  # noqa: ANN001
    program, x = setup
    graph = export_with_ranges(program, x)
    rows = compare.layer_errors(program, graph, x)
    path = compare.plot(rows, tmp_path / "layers.png")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not any(math.isnan(r.whole.snr_db) for r in rows)
