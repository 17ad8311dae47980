"""Generated C against the golden model, byte for byte, on random graphs.

Targets: host (through CModel), generic (-DBNN_PORTABLE program), armv8 and
armv7 (statically linked programs under qemu-user). Also: registry sync,
-Werror builds under gcc and clang, determinism, golden files, toolchain
errors, arena vs lower bound.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from bnnkit.codegen import build, plan_memory, write_project
from bnnkit.codegen.build import COMPILERS
from bnnkit.codegen.emit import render_project, runtime_dir, template_dir
from bnnkit.codegen.planner import ALIGN, align_up
from bnnkit.errors import ToolchainError
from bnnkit.golden import float_ops, int_ops
from bnnkit.golden.interpreter import run_int
from bnnkit.ir import ops
from bnnkit.registry import LOWERED_OPS, OPS
from bnnkit.runtime import CModel
from bnnkit.runtime.layout import from_c_bytes, to_c_bytes

from . import shared_runtime
from .randgraph import (  # noqa: E402
    INT_OPS,
    graphs,
    need,
    need_target,
    op_graph,
    random_graph,
    random_input,
    run_program,
    tiny_graph,
)

GOLDEN_DIR = Path(__file__).parent / "golden_files" / "tiny"
OP_GOLDEN_DIR = Path(__file__).parent / "golden_files" / "ops"
TARGETS = ("generic", "armv8", "armv7")
#: One random graph per op (each also holds other ops); free graphs come from hypothesis.
BATCH = [(1000 + i, op) for i, op in enumerate(INT_OPS)]
BATCH.append((2289, "bconv"))  # grouped (69 channels a group) and dilated, both pad modes
# DenseNet and MeliusNet blocks whose concats are written in place (codegen/slices.py):
# 4, 6 and 3 slices (2, 3 and 0 of them adds), ending in a lut, a threshold and a lut;
# 4, 118 and 195 input channels
BATCH += [(3004, "concat_chain"), (3020, "concat_chain"), (3054, "concat_chain")]


# -- the batch: generated once, built for every target in parallel ----------------------


@pytest.fixture(scope="session")
def batch(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[object, Path]]:
    root = tmp_path_factory.mktemp("codegen")
    out = []
    for seed, op in BATCH:
        graph = random_graph(seed, require=op)
        out.append((graph, write_project(graph, root / f"g{seed}", name=f"g{seed}",
                                         command_line=f"test seed {seed}").directory))
    return out


@pytest.fixture(scope="session")
def builds(batch: list[tuple[object, Path]], runtime_cache: Path
           ) -> dict[tuple[int, str], Path | Exception]:
    """Every (project, target) program, with the Makefile's STRICT=1 (-Werror) flags; the
    runtime is compiled once per target for all of them."""
    import shutil
    jobs = [(i, t) for t in TARGETS if shutil.which(COMPILERS[t][0])
            for i in range(len(batch))]

    def one(job: tuple[int, str]) -> Path | Exception:
        i, target = job
        try:
            return shared_runtime.program(batch[i][1], target, runtime_cache)
        except ToolchainError as e:
            return e

    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        return dict(zip(jobs, pool.map(one, jobs), strict=True))


def built(builds: dict, i: int, target: str) -> Path:
    result = builds[(i, target)]
    if isinstance(result, Exception):
        raise result
    return result


# -- registry ---------------------------------------------------------------------------


def declared_kernels() -> set[str]:
    header = (runtime_dir() / "bnn_runtime.h").read_text()
    return set(re.findall(r"^void\s+(bnn_\w+)\s*\(", header, re.M))


def test_registry_templates_and_kernels_in_sync() -> None:
    assert list(OPS) == list(ops.SPECS)
    assert all(entry.spec is ops.SPECS[op] for op, entry in OPS.items())
    golden_modules = {"int": int_ops, "float": float_ops}
    for op, entry in OPS.items():
        assert entry.golden is getattr(golden_modules[entry.spec.level], op), op
    assert set(LOWERED_OPS) == set(ops.INT_OPS)
    lowerings = {op: e.lowering for op, e in OPS.items() if e.lowering is not None}
    declared = declared_kernels()
    used: set[str] = set()
    for op, entry in lowerings.items():
        template = template_dir() / entry.template
        assert template.is_file(), f"{op}: no template {entry.template}"
        assert entry.template == f"{op}.c.j2"
        text = template.read_text()
        for kernel in entry.kernels:
            assert kernel in declared, f"{op}: {kernel} is not declared in bnn_runtime.h"
            # The template names the kernel, or calls the one the lowering picked.
            assert kernel in text or "p.kernel" in text, f"{entry.template} never calls {kernel}"
        used.update(entry.kernels)
    public = {k for k in declared if not k.endswith("_ref")}
    assert public == used, f"kernels without a lowering: {sorted(public - used)}"
    op_templates = {p.name for p in template_dir().glob("*.c.j2")} - {"node.c.j2", "model.c.j2",
                                                                      "main.c.j2", "weights.c.j2",
                                                                      "testvectors.c.j2",
                                                                      "bconv_tile8.c.j2",
                                                                      "bconv_tile8_a32.c.j2"}
    assert op_templates == {e.template for e in lowerings.values()}


def test_batch_covers_every_op_and_mode(batch: list) -> None:
    nodes = [n for g, _ in batch for n in g.nodes]
    assert {n.op for n in nodes} == set(ops.INT_OPS)
    bconvs = [n for n in nodes if n.op == "bconv"]
    assert {n.attrs["pad_mode"] for n in bconvs} == {"zero", "one"}
    assert any(not any(n.attrs["padding"]) for n in bconvs)
    assert any(n.attrs.get("groups", 1) > 1 for n in bconvs)
    assert any(max(n.attrs.get("dilation", (1, 1))) > 1 for n in bconvs)


# -- C == golden ------------------------------------------------------------------------


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(graph=graphs())
def test_host_cmodel_matches_golden(graph, tmp_path_factory: pytest.TempPathFactory,
                                    runtime_cache: Path) -> None:
    project = write_project(graph, tmp_path_factory.mktemp("host") / "p", name="m").directory
    model = CModel(project, library=shared_runtime.host_library(project, runtime_cache))
    q = random_input(graph, 3, seed=1)
    np.testing.assert_array_equal(model.run_int(q), run_int(graph, q))
    assert model.first_mismatch(q[:1]) is None


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(graph=graphs(require="concat_chain"))
def test_host_concat_chains_match_golden(graph, tmp_path_factory: pytest.TempPathFactory,
                                         runtime_cache: Path) -> None:
    """Concats in place: the C output, and every tensor the trace reads through its
    slice and view, equal the golden model's."""
    project = write_project(graph, tmp_path_factory.mktemp("chain") / "p", name="m").directory
    model = CModel(project, library=shared_runtime.host_library(project, runtime_cache))
    q = random_input(graph, 2, seed=2)
    np.testing.assert_array_equal(model.run_int(q), run_int(graph, q))
    assert model.first_mismatch(q) is None


def test_host_batch_matches_golden(batch: list, runtime_cache: Path) -> None:
    for i, (graph, project) in enumerate(batch):
        model = CModel(project, library=shared_runtime.host_library(project, runtime_cache))
        q = random_input(graph, 2, seed=i)
        mismatch = model.first_mismatch(q)
        assert mismatch is None, f"{project.name}: {mismatch}"


@pytest.mark.parametrize("target", TARGETS)
def test_program_matches_golden(target: str, batch: list, builds: dict, tmp_path: Path
                                ) -> None:
    need_target(target)
    for i, (graph, project) in enumerate(batch):
        program = built(builds, i, target)
        proc = run_program(target, program, "--selftest")
        assert proc.returncode == 0, f"{project.name} {target}: {proc.stdout}{proc.stderr}"
        assert "FAIL" not in proc.stdout
        q = random_input(graph, 1, seed=100 + i)
        t_in = graph.tensors[graph.inputs[0]]
        t_out = graph.tensors[graph.outputs[0]]
        (tmp_path / "in.bin").write_bytes(to_c_bytes(q[0], t_in))
        proc = run_program(target, program, "--input", str(tmp_path / "in.bin"),
                           "--output", str(tmp_path / "out.bin"))
        assert proc.returncode == 0, proc.stderr
        got = from_c_bytes((tmp_path / "out.bin").read_bytes(), t_out)
        np.testing.assert_array_equal(got, run_int(graph, q)[0],
                                      err_msg=f"{project.name} on {target}")


def test_selftest_detects_a_wrong_vector(batch: list, builds: dict, tmp_path: Path) -> None:
    """--selftest must be able to fail: corrupt one expected byte and rebuild."""
    need_target("generic")
    graph, project = batch[0]
    name = project.name
    source = (project / f"{name}_testvectors.c").read_text()
    head, tail = source.split(f"{name}_testvector_outputs", 1)
    tail = re.sub(r"0x([0-9a-f]{2})", lambda m: f"0x{int(m.group(1), 16) ^ 1:02x}", tail,
                  count=1)
    copy = tmp_path / name
    import shutil
    shutil.copytree(project, copy)
    (copy / f"{name}_testvectors.c").write_text(head + f"{name}_testvector_outputs" + tail)
    proc = run_program("generic", build(copy, "generic"), "--selftest")
    assert proc.returncode == 1
    assert "vector 0: FAIL: first differing byte 0 " in proc.stdout


def test_input_size_is_checked(batch: list, builds: dict, tmp_path: Path) -> None:
    need_target("generic")
    program = built(builds, 0, "generic")
    (tmp_path / "short.bin").write_bytes(b"\0")
    proc = run_program("generic", program, "--input", str(tmp_path / "short.bin"),
                       "--output", str(tmp_path / "o.bin"))
    assert proc.returncode == 2 and "the model takes exactly" in proc.stderr


def test_bench_json(batch: list, builds: dict) -> None:
    need_target("generic")
    graph, _ = batch[0]
    proc = run_program("generic", built(builds, 0, "generic"), "--bench", "5", "--warmup", "1",
                       "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["runs"] == 5
    assert [layer["op"] for layer in result["layers"]] == [n.op for n in graph.nodes]
    assert result["total"]["median"] >= 0 and result["total"]["p90"] >= result["total"]["median"]
    proc = run_program("generic", built(builds, 0, "generic"), "--help")
    assert proc.returncode == 0 and "--selftest" in proc.stdout


# -- compilers --------------------------------------------------------------------------


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_werror_clean(cc: str, batch: list) -> None:
    need(cc, cc)
    for _, project in batch[:4]:
        build(project, "host", cc=cc, strict=True)
        build(project, "generic", cc=cc, strict=True, library=True)


def test_two_models_link_into_one_program(batch: list, tmp_path: Path) -> None:
    need("gcc", "gcc")
    (_, a), (_, b) = batch[0], batch[1]
    main = tmp_path / "both.c"
    main.write_text(f"""
#include <stdio.h>
#include "{a}/{a.name}.h"
#include "{b}/{b.name}.h"
static unsigned char arena_a[{a.name.upper()}_ARENA_SIZE + 16] {a.name.upper()}_ALIGNED;
static unsigned char arena_b[{b.name.upper()}_ARENA_SIZE + 16] {b.name.upper()}_ALIGNED;
static unsigned char in_a[{a.name.upper()}_INPUT_BYTES] {a.name.upper()}_ALIGNED;
static unsigned char out_a[{a.name.upper()}_OUTPUT_BYTES] {a.name.upper()}_ALIGNED;
static unsigned char in_b[{b.name.upper()}_INPUT_BYTES] {b.name.upper()}_ALIGNED;
static unsigned char out_b[{b.name.upper()}_OUTPUT_BYTES] {b.name.upper()}_ALIGNED;
int main(void) {{
    printf("%d %d\\n", {a.name}_run(in_a, out_a, arena_a), {b.name}_run(in_b, out_b, arena_b));
    printf("%d\\n", {a.name}_run(in_a, out_a, arena_a + 8));
    return 0;
}}
""")
    sources = [main, a / f"{a.name}.c", a / f"{a.name}_weights.c", b / f"{b.name}.c",
               b / f"{b.name}_weights.c", *sorted((a / "runtime").glob("*.c"))]
    exe = tmp_path / "both"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O1",
                    "-I", str(a), "-o", str(exe), *map(str, sources)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "0", "2"]  # misaligned arena -> ERR_ALIGNMENT


def test_missing_cross_compiler_is_a_clear_error(batch: list, monkeypatch) -> None:
    _, project = batch[0]
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(ToolchainError, match=r"apt-get install gcc-aarch64-linux-gnu"):
        build(project, "armv8")
    with pytest.raises(ToolchainError, match=r"apt-get install gcc-arm-linux-gnueabihf"):
        build(project, "armv7")


def test_compiler_errors_are_reported(batch: list) -> None:
    need("gcc", "gcc")
    _, project = batch[0]
    with pytest.raises(ToolchainError, match=r"no_such_header_xyz\.h"):
        build(project, "generic", extra_cflags="-include no_such_header_xyz.h")
    with pytest.raises(ToolchainError, match="not found"):
        build(project, "host", cc="/nonexistent/cc")


# -- determinism and golden files -------------------------------------------------------


def test_generation_is_deterministic(tmp_path: Path) -> None:
    graph = random_graph(77, require="concat_bits")
    a = write_project(graph, tmp_path / "a", name="m", command_line="x").directory
    b = write_project(graph, tmp_path / "b", name="m", command_line="x").directory
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


GOLDEN_ARGS = {"target": "armv8", "name": "tiny", "cpu": "cortex-a72",
               "command_line": "bnn-export tiny.pt --target armv8 --cpu cortex-a72 -o tiny",
               "test_vectors": 2}


def test_golden_files(tmp_path: Path) -> None:
    """The generated C of a fixed model; BNNKIT_UPDATE_GOLDEN=1 rewrites the expected files."""
    files = render_project(tiny_graph(), **GOLDEN_ARGS)
    if os.environ.get("BNNKIT_UPDATE_GOLDEN") == "1":
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        for old in GOLDEN_DIR.iterdir():
            old.unlink()
        for rel, text in files.items():
            (GOLDEN_DIR / rel).write_text(text)
    expected = {p.name: p.read_text() for p in GOLDEN_DIR.iterdir()}
    assert sorted(files) == sorted(expected), "file list changed; BNNKIT_UPDATE_GOLDEN=1?"
    for rel, text in files.items():
        assert text == expected[rel], f"{rel} differs from tests/golden_files/tiny/{rel}; " \
                                      f"if intended, rerun with BNNKIT_UPDATE_GOLDEN=1"


def op_golden_files(op: str) -> dict[str, str]:
    """The node function (in the model's .c) and the weights of op_graph(op)."""
    files = render_project(op_graph(op), **{**GOLDEN_ARGS, "name": op,
                                            "command_line": f"bnn-export {op}.pt"})
    return {rel: files[rel] for rel in (f"{op}.c", f"{op}_weights.c")}


def test_op_golden_files_cover_the_registry() -> None:
    expected = {rel for op in LOWERED_OPS for rel in (f"{op}.c", f"{op}_weights.c")}
    present = {p.name for p in OP_GOLDEN_DIR.iterdir()} if OP_GOLDEN_DIR.is_dir() else set()
    assert present == expected, f"missing: {sorted(expected - present)}, stale: " \
                                f"{sorted(present - expected)}; BNNKIT_UPDATE_GOLDEN=1?"


@pytest.mark.parametrize("op", LOWERED_OPS)
def test_op_golden_files(op: str) -> None:
    """The generated C of one fixed node per op; BNNKIT_UPDATE_GOLDEN=1 rewrites them."""
    files = op_golden_files(op)
    if os.environ.get("BNNKIT_UPDATE_GOLDEN") == "1":
        OP_GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        for rel, text in files.items():
            (OP_GOLDEN_DIR / rel).write_text(text)
    for rel, text in files.items():
        path = OP_GOLDEN_DIR / rel
        assert path.is_file(), f"no tests/golden_files/ops/{rel}; BNNKIT_UPDATE_GOLDEN=1?"
        assert text == path.read_text(), f"{rel} differs from tests/golden_files/ops/{rel}; " \
                                         f"if intended, rerun with BNNKIT_UPDATE_GOLDEN=1"


def test_golden_file_model_runs(tmp_path: Path) -> None:
    graph = tiny_graph()
    project = write_project(graph, tmp_path / "tiny", **{**GOLDEN_ARGS, "target": "host"})
    q = random_input(graph, 4, seed=5)
    np.testing.assert_array_equal(CModel(project.directory).run_int(q), run_int(graph, q))
    assert project.binary_macs == 5 * 6 * 70 * 9 * 8 + 10 * 6 * 70
    assert project.int8_macs == 5 * 6 * 8 * 9 * 3
    assert (project.directory / "runtime" / "bnn_runtime.h").is_file()
    assert filecmp.cmp(project.directory / "runtime" / "bnn_runtime.h",
                       runtime_dir() / "bnn_runtime.h", shallow=False)


# -- memory plan ------------------------------------------------------------------------


def test_arena_is_valid_and_near_the_lower_bound() -> None:
    ops = (*INT_OPS, "concat_chain")
    for seed in range(300):
        graph = random_graph(seed, require=ops[seed % len(ops)], max_steps=6)
        plan = plan_memory(graph)
        spans = list(plan.placements.values())
        for p in spans:
            assert p.offset % ALIGN == 0 or p.tensor in plan.slices
            assert p.offset + p.size <= plan.arena_bytes
            assert graph.tensors[p.tensor].nbytes() == p.size
        for t, s in plan.slices.items():  # inside its root's bytes, its channels inside its pixel
            root = plan.placements[s.root]
            assert root.offset <= plan.placements[t].offset
            assert plan.placements[t].offset - root.offset == s.offset
            assert s.offset + graph.tensors[t].channels <= s.pitch
        for i, p in enumerate(spans):
            for q in spans[i + 1:]:
                in_place = plan.buffers[p.tensor] == plan.buffers[q.tensor]
                if p.first <= q.last and q.first <= p.last and not in_place:  # alive together
                    assert p.offset + p.size <= q.offset or q.offset + q.size <= p.offset, \
                        f"seed {seed}: {p} overlaps {q}"
        assert plan.lower_bound <= plan.lower_bound_aligned <= plan.arena_bytes
        assert plan.arena_bytes <= 1.05 * plan.lower_bound_aligned, f"seed {seed}: {plan}"
        assert plan.lower_bound_aligned - plan.lower_bound <= (ALIGN - 1) * len(spans)
        assert all(align_up(p.size) >= p.size for p in spans)
        assert graph.inputs[0] not in plan.placements
        assert graph.outputs[0] not in plan.placements
