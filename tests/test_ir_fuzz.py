"""The IR loader fuzzed: damaged graph.json and weights.npz either load or fail with
a one-line BnnkitError, and ``bnn-export IRDIR -o OUT`` writes all of OUT or nothing.

Fixed seeds (hypothesis derandomized), so CI runs the same cases every time;
``BNNKIT_FUZZ_SCALE=20`` multiplies every count for a long local run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnnkit import ir
from bnnkit.cli.export_cmd import main as bnn_export
from bnnkit.errors import BnnkitError
from bnnkit.ir.atomic import MARKER
from bnnkit.ir.graph import DTYPES
from bnnkit.ir.ops import SPECS

from .randgraph import tiny_graph

SCALE = int(os.environ.get("BNNKIT_FUZZ_SCALE", "1"))
CLI_RUNS = 12 * SCALE   # bnn-export runs per test (each renders a project)


@pytest.fixture(scope="module")
def valid_ir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ir.save(tiny_graph(), tmp_path_factory.mktemp("fuzz") / "ir")


class Checker:
    """Loads damaged IR directories; runs bnn-export on some of them."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.loaded = self.refused = self.cli_runs = 0

    def check(self, directory: Path) -> None:
        try:
            ir.load(directory)
        except BnnkitError as e:
            message = str(e)
            assert message and "\n" not in message, repr(message)
            self.refused += 1
            run_cli = self.refused <= 3
        else:
            self.loaded += 1
            run_cli = True
        if run_cli and self.cli_runs < CLI_RUNS:
            self.cli_runs += 1
            self.export(directory)

    def export(self, directory: Path) -> None:
        """``bnn-export DIR -o OUT --no-build``: a complete project, or a one-line error
        and no OUT."""
        out = self.work / f"out{self.cli_runs}"
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = bnn_export([str(directory), "-o", str(out), "--no-build"])
        errors = [ln for ln in stderr.getvalue().splitlines() if "error" in ln]
        if code == 0:
            assert not errors
            names = {p.name for p in out.iterdir()}
            assert {MARKER, "Makefile", "main.c", "plan.json", "ir", "runtime"} <= names
            assert ir.load(out / "ir") is not None
            shutil.rmtree(out)
        else:
            assert len(errors) == 1 and errors[0].startswith("bnn-export: error: "), errors
            assert not out.exists()
        assert not [p for p in self.work.iterdir() if p.name.startswith(".")], "temp left"


@pytest.fixture
def checker(tmp_path: Path) -> Checker:
    return Checker(tmp_path)


def _copy(valid_ir: Path, work: Path, name: str) -> Path:
    d = work / name
    shutil.copytree(valid_ir, d)
    return d


def _damaged_bytes(data: bytes, rng: np.random.Generator) -> Iterator[bytes]:
    """Byte flips (1 to 3 bytes) and truncations of ``data``."""
    for _ in range(100 * SCALE):
        b = bytearray(data)
        for pos in rng.integers(0, len(b), rng.integers(1, 4)):
            b[pos] ^= int(rng.integers(1, 256))
        yield bytes(b)
    for cut in np.linspace(0, len(data) - 1, 20 * SCALE).astype(int):
        yield data[:cut]


@pytest.mark.parametrize("file", ["graph.json", "weights.npz"])
def test_byte_flips_and_truncation(file: str, valid_ir: Path, checker: Checker,
                                   tmp_path: Path) -> None:
    d = _copy(valid_ir, tmp_path, "ir")
    original = (valid_ir / file).read_bytes()
    rng = np.random.default_rng(12 if file == "graph.json" else 13)
    for damaged in _damaged_bytes(original, rng):
        (d / file).write_bytes(damaged)
        checker.check(d)
    assert checker.refused > 0 and checker.cli_runs > 0


def _rewrite_npz(path: Path, rename: dict[str, str | None]) -> None:
    """Rewrite the zip with members renamed (None: removed)."""
    with zipfile.ZipFile(path) as zf:
        members = [(i.filename, zf.read(i)) for i in zf.infolist()]
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            new = rename.get(name, name)
            if new is not None:
                zf.writestr(new, data)


def test_renamed_and_removed_npz_members(valid_ir: Path, checker: Checker,
                                         tmp_path: Path) -> None:
    with zipfile.ZipFile(valid_ir / "weights.npz") as zf:
        names = zf.namelist()
    cases: list[dict[str, str | None]] = []
    for i, name in enumerate(names):
        other = names[(i + 1) % len(names)]
        cases += [{name: None}, {name: name.replace(".npy", "")}, {name: "x/" + name},
                  {name: other, other: name}]  # two arrays swapped
    for n, rename in enumerate(cases):
        d = _copy(valid_ir, tmp_path, f"ir{n}")
        _rewrite_npz(d / "weights.npz", rename)
        checker.check(d)
    assert checker.refused >= len(names) * 2  # removed, moved: always missing


# -- hypothesis: random documents and mutations of the valid one ---------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20)
NEARBY = st.one_of(
    JSON,
    st.sampled_from([0, -1, 1, 2, 3, 63, 64, 65, 127, 128, 255, 256, 4097, 2**31, 2**63,
                     10**12, -2**31 - 1, 0.5, 1e300, float("nan"), float("inf"), True, "",
                     [], {}, [1, 1], [0, 0, 0, 0], [-128, 127]]),
    st.sampled_from([*SPECS, *DTYPES, "zero", "one", "none", "image", "x", "b1", "logits"]))


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(doc: Any, path: tuple, action: str, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        del parent[path[-1]]
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(path[-1], json.loads(json.dumps(parent[path[-1]])))
    else:
        parent[path[-1]] = value
    return doc


@pytest.fixture(scope="module")
def doc_checker(tmp_path_factory: pytest.TempPathFactory) -> Checker:
    """One checker for all examples of a hypothesis test, so bnn-export runs are capped
    per test, not per example."""
    return Checker(tmp_path_factory.mktemp("fuzz_docs"))


def _check_document(checker: Checker, valid_ir: Path, doc: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "ir"
        d.mkdir()
        (d / "graph.json").write_text(json.dumps(doc))
        shutil.copyfile(valid_ir / "weights.npz", d / "weights.npz")
        checker.check(d)


FUZZ = settings(max_examples=100 * SCALE, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(doc=st.fixed_dictionaries(
    {"format": st.just(ir.FORMAT), "version": st.just(ir.VERSION)},
    optional={k: JSON for k in ("meta", "inputs", "outputs", "tensors", "nodes")}))
def test_random_documents(valid_ir: Path, doc_checker: Checker, doc: Any) -> None:
    _check_document(doc_checker, valid_ir, doc)


@FUZZ
@given(data=st.data())
def test_mutated_documents(valid_ir: Path, doc_checker: Checker, data: st.DataObject) -> None:
    doc = json.loads((valid_ir / "graph.json").read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        action = data.draw(st.sampled_from(["replace", "delete", "duplicate"]))
        doc = _mutate(doc, path, action if path else "replace", data.draw(NEARBY))
    _check_document(doc_checker, valid_ir, doc)
