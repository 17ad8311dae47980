"""The IR, the golden model, codegen, the export passes and the op registry stay
mypy-clean: attribute specs and graph types are checked statically as well as at load.

mypy runs on the source tree (through a ``bnnkit`` symlink to it), not on an
installed copy; the settings are ``[tool.mypy]`` in pyproject.toml.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
PACKAGES = ("bnnkit.ir", "bnnkit.golden", "bnnkit.codegen", "bnnkit.export.passes")
MODULES = ("bnnkit.registry",)


def test_mypy_clean(tmp_path: Path) -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("mypy not installed: it is in the test extras (pip install '.[test]')")
    (tmp_path / "bnnkit").symlink_to(REPO, target_is_directory=True)
    args = [a for p in PACKAGES for a in ("-p", p)] + [a for m in MODULES for a in ("-m", m)]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
         "--cache-dir", str(tmp_path / ".mypy_cache"), *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
