"""Concats in place (codegen/slices.py): which inputs become slices, and the folds of
their views into thresholds and tables, against the golden model's arithmetic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnkit.codegen import write_project
from bnnkit.codegen.planner import in_place, plan_memory
from bnnkit.codegen.slices import LEVELS, concat_layout, fold_table, fold_threshold
from bnnkit.golden.interpreter import run_int
from bnnkit.golden.quant import quantize_multiplier, requantize
from bnnkit.ir.graph import Graph, Node, Quant, Tensor
from bnnkit.runtime import CModel

from . import shared_runtime
from .randgraph import Builder, need_target, random_graph, random_input, run_program


def _rescale_view(rng: np.random.Generator, channels: int, steps: int) -> np.ndarray:
    """A view as a chain of concats makes it: rescales composed, one per step."""
    view = np.broadcast_to(LEVELS, (channels, 256)).copy()
    for _ in range(steps):
        m, s = quantize_multiplier(float(rng.uniform(0.05, 3.0)))
        view = requantize(view - int(rng.integers(-20, 21)), m, s,
                          int(rng.integers(-20, 21))).astype(np.int64)
    return view


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), channels=st.integers(1, 70), steps=st.integers(1, 4))
def test_folded_threshold_and_table_equal_reading_the_values(seed, channels, steps) -> None:
    rng = np.random.default_rng(seed)
    view = _rescale_view(rng, channels, steps)
    stored = rng.integers(-128, 128, (50, channels))
    values = np.take_along_axis(view.T, stored + 128, axis=0)  # what the golden model sees
    thr = rng.integers(-140, 141, channels)
    t2 = fold_threshold(view, thr)
    np.testing.assert_array_equal(stored >= t2, values >= thr)
    table = rng.integers(-128, 128, (channels, 256))
    t3 = fold_table(view, table)
    c = np.arange(channels)
    np.testing.assert_array_equal(t3[c, stored & 255], table[c, values & 255])


def _conv(name: str, x: str, out: str, cin: int, cout: int) -> Node:
    return Node(name, "conv_i8", (x,), (out,),
                {"stride": [1, 1], "padding": [1, 1, 1, 1], "groups": 1, "clamp": [-128, 127]},
                {"weight": np.ones((cout, 3, 3, cin), np.int8), "bias": np.zeros(cout, np.int32),
                 "multiplier": np.full(cout, 1 << 30, np.int32),
                 "shift": np.zeros(cout, np.int32)})


def _threshold(name: str, x: str, out: str, c: int) -> Node:
    return Node(name, "threshold", (x,), (out,), {},
                {"threshold": np.zeros(c, np.int32), "flip": np.zeros(c, np.uint8)})


def _chain(conv_reads_c1: bool) -> Graph:
    """c1 = concat(x, a), read by a threshold; c2 = concat(c1, b), b a conv of c1 or of a;
    every tensor its own quantization (so every rescale moves the values)."""
    q = [Quant(0.05 * (i + 1), i - 2) for i in range(5)]
    shapes = {"x": 5, "a": 7, "b": 9, "c1": 12, "c2": 21}
    t = {n: Tensor(n, (1, 3, 3, c), "int8", q[i]) for i, (n, c) in enumerate(shapes.items())}
    t.update(r=Tensor("r", (1, 3, 3, 12), "bits"), y=Tensor("y", (1, 3, 3, 21), "bits"))

    def concat(name: str, parts: tuple[str, str], out: str) -> Node:
        rescale = [list(quantize_multiplier(t[p].quant.scale / t[out].quant.scale))
                   for p in parts]
        return Node(name, "concat_i8", parts, (out,), {"rescale": rescale}, {})

    b = _conv("nb", "c1", "b", 12, 9) if conv_reads_c1 else _conv("nb", "a", "b", 7, 9)
    nodes = (_conv("na", "x", "a", 5, 7), concat("n1", ("x", "a"), "c1"),
             _threshold("nr", "c1", "r", 12), b, concat("n2", ("c1", "b"), "c2"),
             _threshold("ny", "c2", "y", 21))
    return Graph(t, nodes, ("x",), ("y",), {})


def test_a_concat_read_by_a_conv_keeps_its_own_buffer() -> None:
    """The conv reads c1's values, so a (which only c1 reads) is copied into c1 too;
    b, an INT8 conv's output only c2 reads, is written into c2's slice."""
    g = _chain(conv_reads_c1=True)
    layout = concat_layout(g, in_place(g))
    assert set(layout.slices) == {"b"}
    assert (layout.slices["b"].root, layout.slices["b"].offset) == ("c2", 12)
    assert set(layout.views) == {"c2"}


def test_a_concat_read_by_thresholds_lives_in_the_next_concats_buffer() -> None:
    g = _chain(conv_reads_c1=False)
    layout = concat_layout(g, in_place(g))
    assert set(layout.slices) == {"c1", "b"}  # a, read by b's conv, is copied
    s = layout.slices["c1"]
    assert (s.root, s.offset, s.pitch) == ("c2", 0, 21)
    assert set(layout.views) == {"c2"}  # c1's own inputs are copied: values, no view
    plan = plan_memory(g)
    assert plan.placements["c1"].offset == plan.placements["c2"].offset
    assert plan.buffers["c1"] == "c2"


def test_random_chains_place_slices() -> None:
    """The random DenseNet blocks the C tests run do exercise slices and views."""
    graphs = [random_graph(seed, require="concat_chain") for seed in range(30)]
    layouts = [concat_layout(g, in_place(g)) for g in graphs]
    assert sum(len(lay.slices) for lay in layouts) >= 10
    assert sum(len(lay.views) for lay in layouts) >= 10
    adds = {n.outputs[0] for g in graphs for n in g.nodes if n.op == "add_into_i8"}
    assert any(t in adds for lay in layouts for t in lay.slices)  # MeliusNet's chains too


def _concat(b: Builder, parts: list[str]) -> str:
    """An int8 concat with its own quantization: every part's rescale moves its values."""
    h, w, _ = b.shape(parts[0])
    out = b.tensor((h, w, sum(b.shape(p)[2] for p in parts)), "int8")
    so = b.tensors[out].quant.scale
    rescale = [list(quantize_multiplier(b.tensors[p].quant.scale / so)) for p in parts]
    return b.add("concat_i8", parts, out, {"rescale": rescale})


def _dense_block(seed: int, add_into_last: bool = False, first: str = "conv_i8"
                 ) -> tuple[Graph, list[str]]:
    """c1 = concat(a, f1), c2 = concat(c1, f2), f_k binary convs (int8 out) of
    thresholds of the block so far, a an INT8 conv of the input or a pool of it
    (``first``); the end a threshold of c2, or (add_into_last) of MeliusNet's add in
    place into f2's channels first. Returns the graph and [a, f1, c1, f2, c2]."""
    b = Builder(np.random.default_rng(seed))
    x0 = b.tensor((5, 7, 13), "int8")
    a = (b.conv_i8(x0, to_bits=False, depthwise=False, same=True) if first == "conv_i8"
         else b.pool_i8(x0, first, same=True))
    f1 = b.bconv(b.threshold(a), to_int8=True, same=True)
    c1 = _concat(b, [a, f1])
    f2 = b.bconv(b.threshold(c1), to_int8=True, same=True)
    c2 = _concat(b, [c1, f2])
    x = c2
    if add_into_last:
        g = b.bconv(b.threshold(c2), to_int8=True, same=True)
        while b.shape(g)[2] > b.shape(f2)[2]:
            g = b.bconv(b.threshold(c2), to_int8=True, same=True)
        x = b.add_into(c2, g, b.shape(c1)[2], same_quant=True)
    y = b.threshold(x)
    (h, w, c), (oh, ow, oc) = b.shape(x0), b.shape(y)
    graph = Graph(dict(b.tensors), tuple(b.nodes), (x0,), (y,),
                  {"input": {"torch_shape": [1, c, h, w]},
                   "outputs": [{"torch_shape": [1, oc, oh, ow]}]})
    return graph, [a, f1, c1, f2, c2]


def test_conv_outputs_are_written_into_their_slices() -> None:
    """a (an INT8 conv's output, read by f1's threshold too) and the binary convs'."""
    g, (a, f1, c1, f2, c2) = _dense_block(7)
    layout = concat_layout(g, in_place(g))
    ca = g.tensors[a].channels
    assert set(layout.slices) == {a, f1, c1, f2}
    assert (layout.slices[a].root, layout.slices[a].offset) == (c2, 0)
    assert (layout.slices[f1].root, layout.slices[f1].offset) == (c2, ca)
    assert (layout.slices[f2].root, layout.slices[f2].offset) == (c2, g.tensors[c1].channels)
    assert all(s.pitch == g.tensors[c2].channels for s in layout.slices.values())
    # f1's bytes are its own values: c2's view there is the two concats' rescales
    assert not np.array_equal(layout.views[c2][ca:], np.broadcast_to(LEVELS, (
        g.tensors[c2].channels - ca, 256)))


@pytest.mark.parametrize("pool", ["maxpool_i8", "avgpool_i8"])
def test_a_pools_output_is_written_into_its_slice(pool: str) -> None:
    """A block's first input a, read by f1's threshold and c1, too."""
    g, (a, f1, c1, f2, c2) = _dense_block(7, first=pool)
    layout = concat_layout(g, in_place(g))
    assert set(layout.slices) == {a, f1, c1, f2}
    assert (layout.slices[a].root, layout.slices[a].offset) == (c2, 0)


def test_an_add_into_a_binary_convs_channels_copies_only_that_conv() -> None:
    """The add reads f2's channels as values, so f2 is copied; f1 and c1 stay."""
    g, (_, f1, c1, f2, _) = _dense_block(7, add_into_last=True)
    layout = concat_layout(g, in_place(g))
    assert f2 not in layout.slices and {f1, c1} <= set(layout.slices)


def _project(graph: Graph, tmp_path_factory: pytest.TempPathFactory, name: str):  # noqa: ANN202
    return write_project(graph, tmp_path_factory.mktemp(name) / "p", name="m").directory


@pytest.mark.parametrize(("add_into_last", "first"), [
    (False, "conv_i8"), (True, "conv_i8"), (False, "maxpool_i8"), (True, "avgpool_i8")])
def test_outputs_in_their_slices_match_golden(add_into_last: bool, first: str,
                                              tmp_path_factory: pytest.TempPathFactory,
                                              runtime_cache: Path) -> None:
    """On the host: the output, and every tensor read through its slice and view."""
    g, _ = _dense_block(7, add_into_last, first)
    project = _project(g, tmp_path_factory, "slice")
    assert ".out_pitch = " in (project / "m.c").read_text()
    model = CModel(project, library=shared_runtime.host_library(project, runtime_cache))
    q = random_input(g, 3, seed=5)
    np.testing.assert_array_equal(model.run_int(q), run_int(g, q))
    assert model.first_mismatch(q) is None


@pytest.mark.parametrize("first", ["conv_i8", "maxpool_i8"])
@pytest.mark.parametrize("target", ["armv8", "armv7"])
def test_outputs_in_their_slices_match_golden_on_arm(
        target: str, first: str, tmp_path_factory: pytest.TempPathFactory,
        runtime_cache: Path) -> None:
    """The NEON kernels' pitched int8 output (aarch64: the generated tile's too), under
    qemu: the program's selftest against the golden model's test vectors."""
    need_target(target)
    g, _ = _dense_block(7, first=first)
    project = _project(g, tmp_path_factory, f"slice-{target}")
    proc = run_program(target, shared_runtime.program(project, target, runtime_cache),
                       "--selftest")
    assert proc.returncode == 0 and "FAIL" not in proc.stdout, proc.stdout + proc.stderr
