"""Threaded runs give the same bytes as single-threaded ones, on every target.

Host: every op (random graphs, one per op) through CModel on 1..8 threads,
against the golden model. aarch64 and armv7 under qemu-user: the program's
--selftest on a few thread counts. A build without threads still runs on one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from bnnkit import golden
from bnnkit.codegen import build, write_project
from bnnkit.codegen.partition import MAX_THREADS
from bnnkit.codegen.planner import plan_memory
from bnnkit.errors import BnnkitError
from bnnkit.ir.graph import Graph
from bnnkit.runtime import CModel

from .randgraph import INT_OPS, need_target, random_graph, random_input, run_program, tiny_graph
from .tooling import need

#: Fast to compile; the kernels' fast paths are the same at -O1.
CFLAGS = ["-std=c99", "-O1", "-march=native", "-shared", "-fPIC", "-pthread"]


def _graph(op: str) -> Graph:
    """The first random graph holding ``op`` on an input of at least 6x6 (shares
    of several rows and pixels); "linear" is the fixed graph ending in a
    one-pixel bconv (split by output channel); "concat_chain" one whose concats are
    written in place (codegen/slices.py: pitches in the splits)."""
    if op == "linear":
        return tiny_graph()
    for seed in range(1000):
        graph = random_graph(seed, require=op, max_steps=5)
        if min(graph.tensors[graph.inputs[0]].shape[1:3]) >= 6 and (
                op != "concat_chain" or len(plan_memory(graph).slices) >= 2):
            return graph
    raise AssertionError(f"no random graph with {op} on a 6x6 input")


@pytest.mark.parametrize("op", [*INT_OPS, "linear", "concat_chain"])
def test_every_thread_count_gives_the_golden_bytes(op: str, tmp_path: Path) -> None:
    graph = _graph(op)
    q = random_input(graph, 2, seed=11)
    want = golden.run_int(graph, q)
    project = write_project(graph, tmp_path / "m", name="m").directory
    library = CModel(project, cflags=CFLAGS).library
    for threads in range(1, MAX_THREADS + 1):
        got = CModel(project, library=library, threads=threads).run_int(q)
        np.testing.assert_array_equal(got, want, err_msg=f"{op}, {threads} threads")


def test_thread_count_out_of_range_is_one_line_error(tmp_path: Path) -> None:
    project = write_project(_graph("bconv"), tmp_path / "m", name="m").directory
    library = CModel(project, cflags=CFLAGS).library
    with pytest.raises(BnnkitError, match="1..8 threads"):
        CModel(project, library=library, threads=MAX_THREADS + 1)


def _make(project: Path, *args: str) -> Path:
    need("make", "make")
    proc = subprocess.run(["make", "-B", "--no-print-directory", "STRICT=1", *args],
                          cwd=project, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return project / "build" / "host" / "m"


def test_program_without_threads_runs_on_one(tmp_path: Path) -> None:
    project = write_project(_graph("add_i8"), tmp_path / "m", name="m").directory
    program = _make(project, "THREADS=0", "CFLAGS=-O1")
    assert run_program("host", program, "--selftest", "--threads", "1").returncode == 0
    refused = run_program("host", program, "--selftest", "--threads", "2")
    assert refused.returncode == 3 and "cannot start 2 threads" in refused.stderr
    bad = run_program("host", program, "--selftest", "--threads", "9")
    assert bad.returncode == 2 and "--threads takes 1..8" in bad.stderr


@pytest.mark.parametrize("target", ["armv8", "armv7"])
def test_selftest_on_threads_under_qemu(target: str, tmp_path: Path) -> None:
    need_target(target)
    graph = random_graph(5, require="concat_bits", max_steps=6)
    project = write_project(graph, tmp_path / "m", name="m").directory
    program = build(project, target, strict=True, extra_cflags="-O1")  # after -O3: wins
    outputs = []
    for threads in range(1, 9):
        result = run_program(target, program, "--selftest", "--threads", str(threads))
        assert result.returncode == 0, f"{threads} threads: {result.stdout}{result.stderr}"
        outputs.append(result.stdout)
    assert len(set(outputs)) == 1


def test_two_pools_run_at_once(tmp_path: Path) -> None:
    """No global state: two models, each on its own pool, from two Python threads at
    once (cffi releases the GIL during the C call)."""
    from concurrent.futures import ThreadPoolExecutor

    graph = _graph("concat_bits")
    q = random_input(graph, 6, seed=3)
    want = golden.run_int(graph, q)
    project = write_project(graph, tmp_path / "m", name="m").directory
    library = CModel(project, cflags=CFLAGS).library
    models = [CModel(project, library=library, threads=n) for n in (2, 3)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda m: [m.run_int(q) for _ in range(5)], models))
    for runs in results:
        for got in runs:
            np.testing.assert_array_equal(got, want)
