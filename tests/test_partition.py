"""The static thread split (codegen/partition.py): whole shares, equal work, every op."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bnnkit.codegen.emit import lower_graph
from bnnkit.codegen.partition import (
    MAX_THREADS,
    Split,
    boundaries,
    busiest_share,
    split_node,
    table,
)
from bnnkit.codegen.planner import plan_memory

from .randgraph import INT_OPS, random_graph, tiny_graph


@settings(deadline=None)          # a loaded machine may pause any example
@given(total=st.integers(0, 5000), threads=st.integers(1, MAX_THREADS),
       grain=st.sampled_from([1, 8, 16, 64]))
def test_shares_cover_the_output_in_whole_equal_grains(total: int, threads: int,
                                                       grain: int) -> None:
    b = boundaries(total, threads, grain)
    assert len(b) == threads + 1 and b[0] == 0 and b[-1] == total
    shares = [hi - lo for lo, hi in zip(b, b[1:], strict=False)]
    assert min(shares) >= 0
    assert all(x % grain == 0 or x == total for x in b)  # a share starts on a grain
    chunks = [-(-s // grain) for s in shares]  # one share may hold a partial grain
    assert max(chunks) - min(chunks) <= 1


def test_table_is_bnn_share_layout() -> None:
    rows = table(Split("rows", 7), 4)
    assert rows == [[0, 7], [0, 3, 7], [0, 2, 5, 7], [0, 1, 3, 5, 7]]
    flat = [b for row in rows for b in row]
    for n in range(1, 5):  # BNN_SHARE: split + (n - 1) * (n + 2) / 2 + thread
        start = (n - 1) * (n + 2) // 2
        assert flat[start:start + n + 1] == rows[n - 1]


def test_larger_shares_go_to_the_middle_threads() -> None:
    """The first and last shares hold the borders (padded windows cost more)."""
    assert boundaries(14, 4) == [0, 3, 7, 11, 14]
    assert boundaries(10, 4, 8) == [0, 0, 8, 10, 10]  # a whole grain, then the rest


def test_busiest_share_of_a_seven_row_map() -> None:
    assert busiest_share(Split("rows", 7), 4) == 2 / 7
    assert busiest_share(Split("rows", 56), 4) == 0.25
    assert busiest_share(Split("rows", 0), 4) == 0.0


def test_linear_layers_split_by_output_channel() -> None:
    codes = lower_graph(tiny_graph(), plan_memory(tiny_graph()), "tiny")
    fc = split_node(codes[-1])  # bconv 2x3 -> 1x1, 10 int8 logits
    assert (fc.unit, fc.total, fc.grain) == ("channels", 10, 8)
    assert fc.strides["weight"] == 2 * 3 * 2  # kernel taps x words of 70 channels
    assert [split_node(c).unit for c in codes[:-1]] == ["pixels", "rows", "rows", "rows"]


def test_every_op_has_a_split() -> None:
    for op in INT_OPS:
        graph = random_graph(7, require=op)
        for code in lower_graph(graph, plan_memory(graph), "m"):
            split = split_node(code)
            out = code.output.shape
            units = {"rows": out[1], "pixels": out[1] * out[2],
                     "elements": out[1] * out[2] * out[3], "channels": out[3]}
            assert split.total == units[split.unit], (op, split)
