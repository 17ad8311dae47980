"""Provenance in the generated C: the user's own line, never a machine's directories.

The same model gives byte-identical C whichever directory bnnkit is installed
in and wherever the model's module was saved from, and no generated file
holds an absolute path.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import bnnkit
from bnnkit.codegen.emit import render_project
from bnnkit.export.frontend import user_frame

# The bnnkit being tested (a checkout, or an installed copy in site-packages) and the
# checkout the tests came from, which carries the example model.
REPO = Path(bnnkit.__file__).resolve().parent
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits_bnn.pt"
ABSOLUTE_FRAME = re.compile(r'File \\?"(/|[A-Za-z]:\\)')

NET = textwrap.dedent("""\
    import torch
    from torch import nn

    from bnnkit.nn import BinaryConv2d, BinaryLinear


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(1, 8, 3, padding=1)
            self.bn0 = nn.BatchNorm2d(8)
            self.body = BinaryConv2d(8, 16, 3, padding=1, pad_value=1.0)
            self.bn1 = nn.BatchNorm2d(16)
            self.head = BinaryLinear(16 * 6 * 6, 4)
            self.bn2 = nn.BatchNorm1d(4)

        def forward(self, x):
            x = self.bn0(self.stem(x))
            x = self.bn1(self.body(x))
            return self.bn2(self.head(torch.flatten(x, 1)))
    """)


@pytest.mark.parametrize(("line", "expected"), [
    ('  File "/home/ann/proj/net.py", line 12, in forward', 'File "net.py", line 12, in forward'),
    ('File "C:\\Users\\ann\\proj\\net.py", line 3, in forward',
     'File "net.py", line 3, in forward'),
    ('File "/opt/py/lib/python3.12/site-packages/torch/nn/modules/conv.py", line 565, in forward',
     None),
    ('File "/usr/lib/python3/dist-packages/foo/bar.py", line 1, in f', None),
    ('File "/src/pytorch/torch/nn/functional.py", line 2, in relu', None),
    ('File "/usr/lib/python3.11/contextlib.py", line 81, in inner', None),
    ('File "/work/main/nn/binary.py", line 75, in forward', None),          # bnnkit checkout
    ('File "/venv/lib/python3.11/site-packages/bnnkit/nn/sign.py", line 7, in f', None),
    ('File "/home/ann/proj/nn/blocks.py", line 9, in forward',
     'File "blocks.py", line 9, in forward'),
    ('File "<string>", line 1, in <module>', None),
    ("    return self._conv_forward(input, self.weight, self.bias)", None),
])
def test_user_frame(line: str, expected: str | None) -> None:
    assert user_frame(line) == expected


def _package_copy(root: Path) -> Path:
    """bnnkit's tree (code, templates, C runtime) copied under ``root``; returns the
    directory to put on PYTHONPATH."""
    shutil.copytree(REPO, root / "bnnkit", ignore=shutil.ignore_patterns(
        ".git", ".venv", "tests", "docs", "data", "__pycache__", "*.pt", "*.npz", "*.mp4",
        "*.png", "*.jpg"))
    return root


def _export(pythonpath: Path, workdir: Path) -> dict[str, bytes]:
    """``bnn-export digits_bnn.pt -o out --no-build`` run in ``workdir`` with the bnnkit
    at ``pythonpath``; every file of the project by relative path."""
    workdir.mkdir(parents=True)
    shutil.copyfile(EXAMPLE, workdir / "digits_bnn.pt")
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    code = "import bnnkit, sys; print(bnnkit.__file__); " \
           "from bnnkit.cli.export_cmd import main; sys.exit(main())"
    proc = subprocess.run([sys.executable, "-c", code, "digits_bnn.pt", "-o", "out",
                           "--no-build"], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith(str(pythonpath)), proc.stdout
    out = workdir / "out"
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def _assert_no_absolute_paths(files: dict[str, bytes], *prefixes: str) -> None:
    for rel, data in files.items():
        text = data.decode("utf-8", errors="replace")
        assert not ABSOLUTE_FRAME.search(text), f"{rel}: {ABSOLUTE_FRAME.search(text)}"
        for prefix in prefixes:
            assert prefix not in text, f"{rel} contains {prefix}"


def test_same_c_from_two_install_locations(tmp_path: Path) -> None:
    a = _export(_package_copy(tmp_path / "a"), tmp_path / "run_a")
    b = _export(_package_copy(tmp_path / "b" / "deeper" / "site"), tmp_path / "run_b")
    assert sorted(a) == sorted(b)
    for rel in a:
        assert a[rel] == b[rel], f"{rel} differs between the two installations"
    _assert_no_absolute_paths(a, str(tmp_path), str(REPO), sys.prefix, "site-packages")
    assert b"source: 2 (BinaryConv2d)" in a["digits_bnn.c"]


def _save_from(directory: Path) -> Path:
    """Save Net from a module file in ``directory``, as a user would."""
    directory.mkdir(parents=True)
    (directory / "netmod.py").write_text(NET)
    spec = importlib.util.spec_from_file_location(f"netmod_{directory.name}",
                                                  directory / "netmod.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    model = module.Net().eval()
    x = torch.rand(16, 1, 6, 6) - 0.5
    return bnnkit.save(model, directory / "net.pt", example_input=x[:1], calibration=x)


def test_provenance_of_a_model_saved_from_a_module_in_a_temp_dir(tmp_path: Path) -> None:
    renders = []
    for where in (tmp_path / "one", tmp_path / "two" / "nested"):
        graph = bnnkit.export(_save_from(where))
        sources = {n.name: n.source for n in graph.nodes}
        assert any(re.fullmatch(r'stem \(Conv2d\), File "netmod.py", line 18, in forward', s)
                   for s in sources.values()), sources
        files = render_project(graph, target="host", name="net", cpu=None, command_line="",
                               test_vectors=2)
        _assert_no_absolute_paths({k: v.encode() for k, v in files.items()}, str(tmp_path))
        renders.append(files)
    assert renders[0] == renders[1]
