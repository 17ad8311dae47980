"""The README's main-job command, run as written (from a fresh directory)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main_job_command() -> str:
    text = (REPO / "README.md").read_text()
    after = text[text.index("The main job"):]
    return re.search(r"```\n(.*?)\n```", after, re.S).group(1).strip()


def test_main_job_exports_classifies_and_benchmarks(tmp_path) -> None:  # noqa: ANN001
    command = main_job_command()
    assert command.startswith(".venv/bin/bnn-export examples/"), command
    # The same command with this interpreter's scripts and the checkout's examples.
    command = command.replace(".venv/bin/", f"{Path(sys.executable).parent}/") \
                     .replace("examples/", f"{REPO}/examples/")
    result = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    match = re.search(r"([\d.]+)% top-1 on (\d+) images", out)
    assert match and float(match.group(1)) > 90 and int(match.group(2)) == 397, out
    assert "equals the golden model on all of them" in out
    assert re.search(r"[\d.]+ ms per image", out)
    assert "selftest: 3 of 3 vectors passed" in out
    assert re.search(r"^\s+total\s+[\d.]+\s+[\d.]+$", out, re.M), out


def test_supported_ops_list_is_the_registry() -> None:
    from bnnkit.export.frontend import supported_ops_markdown

    text = (REPO / "README.md").read_text()
    begin, end = "<!-- supported ops: begin -->\n", "<!-- supported ops: end -->"
    listed = text[text.index(begin) + len(begin):text.index(end)].strip()
    assert listed == supported_ops_markdown(), \
        f"README's op list differs from the registry; paste:\n{supported_ops_markdown()}"
