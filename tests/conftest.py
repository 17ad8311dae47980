"""Fixtures every test module can ask for by name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def runtime_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where ``shared_runtime`` keeps the compiled C runtime: one folder for all the
    pytest-xdist workers of a run."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "c-runtime"
