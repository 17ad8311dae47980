"""bnn-export never destroys files it did not write (issue: `-o DIR` wiped DIR)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import torch
from torch import nn

import bnnkit
from bnnkit.cli.export_cmd import main as bnn_export
from bnnkit.errors import OutputDirError
from bnnkit.ir.atomic import MARKER, replace_dir
from bnnkit.nn import BinaryConv2d


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:  # noqa: ANN001
    torch.manual_seed(0)
    model = nn.Sequential(BinaryConv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Flatten(),
                          nn.Linear(8 * 5 * 5, 3)).eval()
    path = tmp_path_factory.mktemp("m") / "model.pt"
    x = torch.randn(8, 1, 5, 5)
    bnnkit.save(model, path, x[:1], calibration=x)
    return path


def _users_dir(root: Path, model_file: Path) -> dict[str, bytes]:
    """A directory as a user has it: their model, a thesis and a data folder."""
    root.mkdir()
    (root / "model.pt").write_bytes(model_file.read_bytes())
    (root / "thesis.tex").write_text("\\documentclass{article}\n")
    (root / "data").mkdir()
    (root / "data" / "x.csv").write_text("1,2,3\n")
    return _snapshot(root)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("mode", [["--ir-only"], ["--no-build"]])
def test_export_refuses_a_directory_it_did_not_write(model_file, tmp_path, capsys,  # noqa: ANN001
                                                      mode) -> None:
    work = tmp_path / "work"
    before = _users_dir(work, model_file)
    code = bnn_export([str(work / "model.pt"), *mode, "-o", str(work)])
    err = capsys.readouterr().err
    assert code == OutputDirError.exit_code
    assert _snapshot(work) == before, "the user's files were touched"
    assert len(err.strip().splitlines()) == 1 and "not written by bnnkit" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"], "temporary files left"


def test_export_replaces_its_own_and_empty_directories(model_file, tmp_path) -> None:  # noqa: ANN001
    empty = tmp_path / "empty"
    empty.mkdir()
    assert bnn_export([str(model_file), "--ir-only", "-o", str(empty)]) == 0
    assert (empty / MARKER).is_file() and (empty / "graph.json").is_file()
    marker = json.loads((empty / MARKER).read_text())   # as if the last export wrote it
    (empty / MARKER).write_text(json.dumps({**marker, "files": [*marker["files"], "stale.txt"]}))
    (empty / "stale.txt").write_text("old")
    (empty / "notes.txt").write_text("mine")             # the user's: kept
    assert bnn_export([str(model_file), "--ir-only", "-o", str(empty)]) == 0
    assert not (empty / "stale.txt").exists()
    assert (empty / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"], "temporary folders left"

    project = tmp_path / "project"
    assert bnn_export([str(model_file), "--no-build", "-o", str(project)]) == 0
    assert (project / MARKER).is_file() and (project / "ir" / MARKER).is_file()
    assert bnn_export([str(model_file), "--no-build", "-o", str(project)]) == 0


def test_symlink_to_a_directory_stays_a_symlink(tmp_path) -> None:  # noqa: ANN001
    real = tmp_path / "real"
    link = tmp_path / "link"
    replace_dir(real, lambda d: (d / "a.txt").write_text("1"), kind="ir")
    link.symlink_to(real)
    replace_dir(link, lambda d: (d / "b.txt").write_text("2"), kind="ir")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert (real / "b.txt").exists() and not (real / "a.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"], "stray files left"


def test_dangling_symlink_names_the_users_path(tmp_path) -> None:  # noqa: ANN001
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "missing")
    with pytest.raises(OutputDirError) as e:
        replace_dir(link, lambda d: None, kind="ir")
    assert str(link) in str(e.value) and ".tmp-" not in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_file_in_the_way_is_refused(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "out").write_text("mine")
    with pytest.raises(OutputDirError, match="not a directory"):
        replace_dir(tmp_path / "out", lambda d: None, kind="ir")
    assert (tmp_path / "out").read_text() == "mine"


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_output_follows_the_umask(tmp_path, umask) -> None:  # noqa: ANN001
    old = os.umask(umask)
    try:
        out = replace_dir(tmp_path / "out", lambda d: (d / "f").write_text("x"), kind="ir")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
