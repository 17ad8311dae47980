"""MeliusNet's improvement block (an add into a channel range): both ways of writing
it export as one add_into_i8 that the C computes in place, and misuses of channel
slices and channel padding are refused in one line."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import bnnkit
from bnnkit import golden
from bnnkit.codegen.planner import plan_memory
from bnnkit.errors import UnsupportedModelError
from bnnkit.zoo.meliusnet import ImprovementBlock

from . import models


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


class _Refused(nn.Module):
    def __init__(self, forward) -> None:  # noqa: ANN001
        super().__init__()
        self.fn = forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


@pytest.mark.parametrize(("forward", "message"), [
    (lambda x: torch.relu(x[:, 2:]), r"relu\S* of a channel slice x\[:, 2:8\].*torch.cat"),
    (lambda x: torch.cat([x[:, :2], x[:, 3:]], 1), r"do not put one tensor back together"),
    (lambda x: torch.relu(F.pad(x, (0, 0, 0, 0, 1, 1))), r"relu\S* of channels padded"),
])
def test_refused_channel_slices_and_pads(forward, message: str) -> None:  # noqa: ANN001
    with pytest.raises(UnsupportedModelError, match=message) as err:
        bnnkit.export(_Refused(forward), torch.randn(1, 8, 4, 4))
    assert "\n" not in str(err.value) and "test_meliusnet.py" in str(err.value)
