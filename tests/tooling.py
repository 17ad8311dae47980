"""Missing tools: a skip on a developer's machine, a failure on CI.

setup.sh installs every tool the tests use, so on CI (``CI=true``) a missing
one is a broken set-up, not a reason to pass quietly.
"""

from __future__ import annotations

import os
import shutil

import pytest


def unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def need(tool: str, package: str) -> str:
    """The tool's path, or skip/fail naming the apt package that provides it."""
    path = shutil.which(tool)
    if path is None:
        unavailable(f"{tool} not found: apt-get install {package}")
    return path
