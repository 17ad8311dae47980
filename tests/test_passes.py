"""Every float-level pass is a pure function that keeps the graph's meaning."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bnnkit.export.frontend import from_exported
from bnnkit.export.modelfile import _trace
from bnnkit.export.passes import (
    calibrate,
    equalize,
    fold_affine,
    fuse_activation,
    reorder_pool,
    tabulate,
)
from bnnkit.export.passes.equalize import channel_factors
from bnnkit.export.pipeline import simplify
from bnnkit.golden.interpreter import execute, to_nhwc
from bnnkit.ir.graph import Graph
from bnnkit.nn import BinaryConv2d, BinaryLinear

from . import models


def _float_graph(model: nn.Module, x: torch.Tensor):  # noqa: ANN202
    return from_exported(_trace(model, x[:1]))


def _run(graph, x: torch.Tensor) -> np.ndarray:  # noqa: ANN001
    out = execute(graph, {graph.inputs[0]: to_nhwc(graph, x.numpy().astype(np.float64))})
    return out[graph.outputs[0]]


def _pool_model() -> nn.Module:
    return models.randomize_batchnorm(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        BinaryConv2d(8, 16, 3, padding=1, scale="xnor"), nn.MaxPool2d(2), nn.BatchNorm2d(16),
        BinaryConv2d(16, 16, 3, padding=1, pad_value=1.0), nn.BatchNorm2d(16), nn.Hardtanh(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4)), seed=1)


def test_each_pass_is_equivalent_and_pure() -> None:
    torch.manual_seed(0)
    model = _pool_model()
    x = torch.randn(16, 3, 8, 8)
    graph = _float_graph(model, x)
    before = _run(graph, x)
    nodes_before = graph.nodes
    for p in (reorder_pool, fold_affine, fuse_activation, simplify):
        out = p(graph)
        assert graph.nodes is nodes_before, f"{p.__name__} changed its input"
        np.testing.assert_allclose(_run(out, x), before, rtol=1e-6, atol=1e-6,
                                   err_msg=p.__name__)
    folded = simplify(graph)
    assert len(folded.nodes) < len(graph.nodes)
    assert not any(n.op == "affine" for n in folded.nodes), "a BatchNorm was left unfolded"
    with torch.no_grad():
        np.testing.assert_allclose(_run(folded, x).reshape(16, -1), model(x).numpy(),
                                   rtol=1e-4, atol=1e-4)


def test_calibrate_records_ranges_only() -> None:
    torch.manual_seed(0)
    model = _pool_model()
    x = torch.randn(8, 3, 8, 8)
    graph = simplify(_float_graph(model, x))
    cal = calibrate(graph, x.numpy())
    assert cal.nodes == graph.nodes
    lo, hi = cal.meta["ranges"][graph.inputs[0]]
    assert lo == float(x.min()) and hi == float(x.max())


def test_negative_batchnorm_stays_after_an_int8_maxpool() -> None:
    torch.manual_seed(0)
    model = models.randomize_batchnorm(models.pool_then_negative_batchnorm(), negative=True)
    x = torch.randn(8, 3, 9, 8)
    graph = _float_graph(model, x)
    out = reorder_pool(graph)
    np.testing.assert_allclose(_run(out, x), _run(graph, x), rtol=1e-6, atol=1e-6)
    ops = [n.op for n in out.nodes]
    assert ops.index("maxpool") < ops.index("affine"), ops


def test_a_sign_moved_across_two_pools_gets_two_tensors() -> None:
    torch.manual_seed(0)
    model = models.randomize_batchnorm(nn.Sequential(
        nn.MaxPool2d(2, padding=1), nn.BatchNorm2d(2), nn.MaxPool2d(2, stride=(2, 1), padding=1),
        nn.Flatten(), BinaryLinear(18, 5)), seed=3)
    x = torch.randn(8, 2, 6, 2)
    graph = _float_graph(model, x)
    out = reorder_pool(graph)
    np.testing.assert_allclose(_run(out, x), _run(graph, x), rtol=1e-6, atol=1e-6)
    outputs = [o for n in out.nodes for o in n.outputs]
    assert len(outputs) == len(set(outputs)), outputs
    assert [n.op for n in out.nodes][:4] == ["affine", "sign", "maxpool", "maxpool"]


def _channelwise_chains(seed: int):  # noqa: ANN202 - (graph, the chain lengths)
    """int8 in -> 1..3 channel-wise stages -> an add reading an earlier stage too
    (which must stay its own table) -> 1..2 stages out."""
    from .randgraph import Builder
    rng = np.random.default_rng(seed)
    b = Builder(rng)
    x0 = x = b.tensor((int(rng.integers(1, 5)), int(rng.integers(1, 5)),
                       int(rng.integers(1, 70))), "int8")
    first = int(rng.integers(1, 4))
    for _ in range(first):
        x = b.channelwise_i8(x)
    branch = x
    x = b.channelwise_i8(x)
    y = b.tensor(b.shape(x), "int8")
    b.add("add_i8", [x, branch], y, {
        "scale_a": [1 << 30, 0], "scale_b": [1 << 30, 0], "scale_out": [1 << 30, -20],
        "clamp": [-128, 127]})
    x = y
    last = int(rng.integers(1, 3))
    for _ in range(last):
        x = b.channelwise_i8(x)
    graph = Graph(dict(b.tensors), tuple(b.nodes), (x0,), (x,))
    return graph, (first, 1, last)


def test_tabulate_is_equivalent_and_pure() -> None:
    """Channel-wise chains become one table each, bit-exact on every input byte."""
    for seed in range(6):
        graph, chains = _channelwise_chains(seed)
        nodes_before = graph.nodes
        out = tabulate(graph)
        assert graph.nodes is nodes_before, "tabulate changed its input"
        assert [n.op for n in out.nodes] == ["lut", "lut", "add_i8", "lut"], chains
        rng = np.random.default_rng(seed)
        x = rng.integers(-128, 128, (3, *graph.tensors[graph.inputs[0]].shape[1:]))
        feeds = {graph.inputs[0]: x.astype(np.int8)}
        want = execute(graph, feeds)[graph.outputs[0]]
        np.testing.assert_array_equal(execute(out, feeds)[out.outputs[0]], want)


def test_equalize_widens_narrow_concatenated_features_exactly() -> None:
    """A reduced MeliusNet: the stem's and the transition's outputs, concatenated with
    binary convs' much wider outputs, are multiplied by powers of two and their readers
    divided by them. Every sign and the output are unchanged bit for bit, the ranges it
    reports are the ones calibration measures on the new graph, and the tensors the
    widened channels share with others keep their ranges."""
    torch.manual_seed(0)
    model = models.randomize_batchnorm(models.melius(), seed=1)
    x = torch.randn(16, 3, 16, 18)
    graph = calibrate(simplify(_float_graph(model, x)), x.numpy())
    nodes_before = graph.nodes
    out = equalize(graph)
    assert graph.nodes is nodes_before and "equalized" not in graph.meta
    spans = out.meta["equalized"]
    assert max(a for runs in spans.values() for _, _, a in runs) >= 4.0  # a wide gain
    feed = {graph.inputs[0]: to_nhwc(graph, x.numpy().astype(np.float64))}
    before, after = execute(graph, feed), execute(out, feed)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name] / channel_factors(out, name), value,
                                      err_msg=name)
    recalibrated = calibrate(out, x.numpy()).meta["ranges"]
    for name, (lo, hi) in out.meta["ranges"].items():
        np.testing.assert_allclose([lo, hi], recalibrated[name], rtol=1e-12, err_msg=name)
        if name in spans and channel_factors(out, name).min() == 1.0:  # shared tensors
            assert [lo, hi] == list(graph.meta["ranges"][name]), name
    assert not any(n.op == "concat" and np.all(channel_factors(out, n.outputs[0]) == 1)
                   for n in out.nodes if n.outputs[0] in spans)
