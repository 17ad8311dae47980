"""MeliusNet's improvement block (an add into a channel range): both ways of writing
it export as one add_into_i8 that the C computes in place, a reduced MeliusNet trains
on sklearn digits and runs bit-exact in C, and misuses of channel slices and channel
padding are refused in one line."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import bnnkit
from bnnkit import golden
from bnnkit.codegen import write_project
from bnnkit.codegen.planner import plan_memory
from bnnkit.errors import UnsupportedModelError
from bnnkit.runtime import CModel
from bnnkit.zoo.meliusnet import DenseBlock, ImprovementBlock

from . import models
from .test_training import _example

STEPS = 150
#: see the test: short training leaves small margins
AGREEMENT = 0.9


def digits_melius(growth: int = 12) -> nn.Sequential:
    """Stem, two dense + improvement pairs (the second in the slice form), head."""
    return nn.Sequential(
        nn.Conv2d(1, 12, 3, padding=1, bias=False), nn.BatchNorm2d(12),
        DenseBlock(12, growth), ImprovementBlock(12 + growth, growth),
        DenseBlock(12 + growth, growth), models.ImprovementCat(12 + 2 * growth, growth),
        nn.BatchNorm2d(12 + 2 * growth), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(12 + 2 * growth, 10))


def test_both_forms_are_one_in_place_add_into() -> None:
    torch.manual_seed(0)
    pad_form = models.randomize_batchnorm(models.melius(), seed=1)
    cat_form = copy.deepcopy(pad_form)
    for i, m in enumerate(cat_form):
        if isinstance(m, ImprovementBlock):
            cat_form[i] = models.ImprovementCat(m.body[0].num_features, m.growth)
            cat_form[i].load_state_dict(m.state_dict())
    cat_form.eval()
    x = torch.randn(16, 3, 16, 18)
    with torch.no_grad():
        np.testing.assert_allclose(pad_form(x), cat_form(x), rtol=1e-5, atol=1e-5)
    graphs = [bnnkit.export(m, x[:1], calibration=x) for m in (pad_form, cat_form)]
    for graph in graphs:
        into = [n for n in graph.nodes if n.op == "add_into_i8"]
        assert [n.attrs["offset"] for n in into] == [16, 40, 60]
        assert set(plan_memory(graph).shared) == {n.outputs[0] for n in into}
    q = golden.quantize_input(graphs[0], x.numpy())
    np.testing.assert_array_equal(golden.run_int(graphs[0], q), golden.run_int(graphs[1], q))


def test_reduced_meliusnet_learns_digits_and_runs_bit_exact(tmp_path: Path) -> None:
    x_train, y_train, x_test, y_test = _example().digits_split()
    torch.manual_seed(0)
    model = digits_melius()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 5e-3, total_steps=STEPS)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(STEPS):
        idx = torch.randint(0, len(x_train), (64,), generator=g)
        loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        torch_pred = model(x_test).argmax(1).numpy()
    accuracy = float(np.mean(torch_pred == y_test.numpy()))
    assert accuracy > 0.7, f"only {accuracy:.1%} after {STEPS} steps (chance is 10%)"

    graph = bnnkit.export(model, x_train[:1], calibration=x_train)
    q = golden.quantize_input(graph, x_test.numpy())
    project = write_project(graph, tmp_path / "melius", name="melius")
    expected = golden.run_int(graph, q)
    np.testing.assert_array_equal(CModel(project.directory).run_int(q), expected)
    agreement = float(np.mean(golden.run(graph, x_test.numpy()).argmax(1) == torch_pred))
    assert agreement >= AGREEMENT, f"golden and PyTorch agree on top-1 for {agreement:.1%}"


class _Refused(nn.Module):
    def __init__(self, forward) -> None:  # noqa: ANN001
        super().__init__()
        self.fn = forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


@pytest.mark.parametrize(("forward", "message"), [
    (lambda x: torch.relu(x[:, 2:]), r"relu of a channel slice x\[:, 2:8\].*torch.cat"),
    (lambda x: torch.cat([x[:, :2], x[:, 3:]], 1), r"do not put one tensor back together"),
    (lambda x: x - F.pad(x[:, :2] * 2, (0, 0, 0, 0, 6, 0)), r"subtraction from a channel"),
    (lambda x: torch.relu(F.pad(x, (0, 0, 0, 0, 1, 1))), r"channels padded with F.pad"),
    (lambda x: x + F.pad(x[:, :2] * 2, (0, 0, 0, 0, 5, 0)), r"add of 2 channels into"),
])
def test_refused_channel_slices_and_pads(forward, message: str) -> None:  # noqa: ANN001
    with pytest.raises(UnsupportedModelError, match=message) as err:
        bnnkit.export(_Refused(forward), torch.randn(1, 8, 4, 4))
    assert "\n" not in str(err.value) and "test_meliusnet.py" in str(err.value)
