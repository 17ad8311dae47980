"""Fuzzing the model file: byte flips, truncation, member renames and removals, and
generated ``meta.json`` contents. Every case either exports or fails with a bnnkit
error of one line; no other exception, and no file is written or deleted.

CI runs a fixed set of examples (``derandomize``); ``BNNKIT_FUZZ_EXAMPLES=N`` runs
more locally.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnnkit.cli.export_cmd import main as bnn_export
from bnnkit.errors import (
    BnnkitError,
    DataFileError,
    InputShapeError,
    ModelFileError,
    UnsupportedModelError,
)
from bnnkit.export.modelfile import MEMBERS, PREFIX

from .models import small_model_file

EXAMPLES = int(os.environ.get("BNNKIT_FUZZ_EXAMPLES", "40"))
#: What bnn-export --ir-only into a fresh directory may fail with (not an OSError's 6).
ERROR_CODES = {e.exit_code for e in (BnnkitError, ModelFileError, DataFileError,
                                     InputShapeError, UnsupportedModelError)}


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory) -> bytes:  # noqa: ANN001
    path = small_model_file(tmp_path_factory.mktemp("m") / "model.pt", stem=4, hw=4,
                            normalize=([0.5], [0.25]), labels=["a", "b", "c"])
    return path.read_bytes()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2**40) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=10)
shapes = st.lists(st.integers(-1, 9), min_size=0, max_size=5)
normalize = st.fixed_dictionaries({"mean": st.lists(st.floats(), max_size=3),
                                   "std": st.lists(st.floats(), max_size=3)})
META_KEYS = ("format", "version", "input_shape", "normalize", "labels", "state_keys",
             "constant_keys", "parameter_keys")
NAMES = st.sampled_from(MEMBERS).map(lambda m: PREFIX + m)

mutations = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 2**20), st.integers(1, 255)),
                                        min_size=1, max_size=6)),
    st.tuples(st.just("truncate"), st.integers(0, 2**20)),
    st.tuples(st.just("remove"), NAMES),
    st.tuples(st.just("rename"), NAMES, st.sampled_from(
        ["bnnkit/x.npy", "meta.json", "bnnkit/META.JSON"]) | st.text(
            st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=8)),
    st.tuples(st.just("replace"), NAMES, st.binary(max_size=40)),
    st.tuples(st.just("meta"), st.sampled_from(META_KEYS), json_values),
    st.tuples(st.just("meta"), st.just("input_shape"), shapes),
    st.tuples(st.just("meta"), st.just("normalize"), normalize),
    st.tuples(st.just("meta_doc"), json_values),
)


def mutate(data: bytes, mutation: tuple) -> bytes:
    kind = mutation[0]
    if kind == "flip":
        out = bytearray(data)
        for pos, xor in mutation[1]:
            out[pos % len(out)] ^= xor
        return bytes(out)
    if kind == "truncate":
        return data[:mutation[1] % len(data)]
    with zipfile.ZipFile(io.BytesIO(data)) as zs:
        members = {n: zs.read(n) for n in zs.namelist()}
    if kind == "remove":
        members.pop(mutation[1])
    elif kind == "rename":
        members[mutation[2]] = members.pop(mutation[1])
    elif kind == "replace":
        members[mutation[1]] = mutation[2]
    else:
        meta = json.loads(members[PREFIX + "meta.json"])
        if kind == "meta":
            meta[mutation[1]] = mutation[2]
        else:
            meta = mutation[1]
        members[PREFIX + "meta.json"] = json.dumps(meta).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zd:
        for name, member in members.items():
            zd.writestr(name, member)
    return buf.getvalue()


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutation=mutations)
def test_a_damaged_model_file_exports_or_fails_in_one_line(model_bytes, mutation) -> None:  # noqa: ANN001
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "model.pt").write_bytes(mutate(model_bytes, mutation))
        (work / "notes.txt").write_text("the user's own file\n")
        before = files_under(work)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = bnn_export([str(work / "model.pt"), "--ir-only", "-o", str(work / "ir")])
        after = files_under(work)
        errors = [ln for ln in err.getvalue().splitlines() if "error" in ln.lower()]
        if code == 0:
            assert {k: v for k, v in after.items() if not k.startswith("ir/")} == before
            assert (work / "ir" / "graph.json").is_file()
        else:
            assert code in ERROR_CODES, err.getvalue()
            assert len(errors) == 1 and errors[0].startswith("bnn-export: error: "), \
                err.getvalue()
            assert after == before, "a failed export wrote or deleted files"
        assert "Traceback" not in err.getvalue()
