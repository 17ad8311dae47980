"""The host binding: CModel runs, traces and localizes mismatches of generated C."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bnnkit.codegen import build, write_project  # noqa: E402
from bnnkit.errors import InputShapeError  # noqa: E402
from bnnkit.golden.interpreter import run, run_int  # noqa: E402
from bnnkit.runtime import CModel  # noqa: E402
from bnnkit.runtime.cmodel import compile_library  # noqa: E402

from .randgraph import need, random_graph, random_input, tiny_graph  # noqa: E402


@pytest.fixture(scope="module")
def dag(tmp_path_factory: pytest.TempPathFactory):
    """A DAG with several arena tensors (concat and add branches)."""
    need("cc", "gcc")
    for seed in range(50, 200):
        graph = random_graph(seed, require="add_i8", max_steps=4)
        if len(graph.nodes) >= 4:
            break
    project = write_project(graph, tmp_path_factory.mktemp("cm") / "dag", name="dag")
    return graph, project.directory, CModel(project.directory)


def test_trace_equals_golden_trace(dag) -> None:
    graph, _, model = dag
    q = random_input(graph, 2, seed=3)
    want = run_int(graph, q, trace=True)
    got = model.trace(q)
    assert list(got) == list(want)  # input first, then schedule order
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert model.first_mismatch(q) is None


def test_first_mismatch_names_the_corrupted_node(dag) -> None:
    graph, _, model = dag
    q = random_input(graph, 1, seed=4)
    golden = run_int(graph, q, trace=True)
    in_arena = [n for n in model.nodes
                if model.plan["tensors"][n["output"]]["location"] == "arena"]
    assert in_arena
    for node in in_arena:
        info = model.plan["tensors"][node["output"]]

        def corrupt(index: int, arena: np.ndarray, target: int = node["index"],
                    info: dict = info) -> None:
            if index == target:
                arena[info["offset"]:info["offset"] + info["nbytes"]] ^= 0xFF

        mismatch = model.first_mismatch(q, golden, hook=corrupt)
        assert mismatch is not None
        assert mismatch.index == node["index"] and mismatch.func == node["func"]
        assert mismatch.tensor == node["output"] and mismatch.node == node["name"]
        assert node["func"] in str(mismatch)
    assert model.first_mismatch(q, golden) is None


def test_float_call_matches_golden_run(tmp_path: Path) -> None:
    need("cc", "gcc")
    graph = tiny_graph()
    model = CModel(write_project(graph, tmp_path / "tiny", name="tiny").directory)
    x = np.random.default_rng(0).uniform(0, 1, (3, 3, 5, 6))
    np.testing.assert_array_equal(model(x), run(graph, x))
    with pytest.raises(InputShapeError):
        model.run_int(np.zeros((1, 5, 5, 3), np.uint8))


def test_prebuilt_library_and_cache(tmp_path: Path) -> None:
    need("cc", "gcc")
    graph = random_graph(9, require="concat_i8")
    project = write_project(graph, tmp_path / "p", name="pre").directory
    lib = build(project, "host", library=True, strict=True)
    q = random_input(graph, 2, seed=1)
    np.testing.assert_array_equal(CModel(project, library=lib).run_int(q), run_int(graph, q))
    first = compile_library(project)
    assert compile_library(project) == first            # cached
    with open(project / "pre.c", "a") as f:
        f.write("\n/* changed */\n")
    assert compile_library(project) != first            # rebuilt when a source changes


def test_misaligned_arena_is_an_error(dag) -> None:
    _, _, model = dag
    raw = np.zeros(model.plan["arena_bytes"] + 32, np.uint8)
    start = (-raw.ctypes.data) % 16 + 4
    arena = model.ffi.cast("void *", raw[start:].ctypes.data)
    run = getattr(model.lib, f"{model.name}_run")
    assert run(model._ptr(model._in), model._ptr(model._out), arena) == 2
    assert run(model.ffi.NULL, model._ptr(model._out), arena) == 1
    run_node = getattr(model.lib, f"{model.name}_run_node")
    assert run_node(len(model.nodes), model._ptr(model._in), model._ptr(model._out),
                    model._ptr(model.arena)) == 3
    assert model.node_names() == [n["func"] for n in model.nodes]
