"""The README's Quickstart: the command it shows is the shipped script, and the
script trains, saves, exports, builds and prints the three accuracies."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "quickstart.py"


def quickstart_command() -> str:
    text = (REPO / "README.md").read_text()
    after = text[text.index("## Quickstart"):]
    return re.search(r"```\n(.*?)\n```", after, re.S).group(1).strip()


def test_readme_quickstart_is_the_script() -> None:
    assert quickstart_command() == ".venv/bin/python examples/quickstart.py"


def test_quickstart_runs(tmp_path: Path) -> None:
    # The README's command, with few training steps: CI checks the pipeline, not the
    # accuracy (the trained example's accuracy is tests/test_training.py's job).
    result = subprocess.run([sys.executable, str(SCRIPT), "--steps", "20", "--out", "qs"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    torch_acc = re.search(r"PyTorch \(model file\)\s+([\d.]+)%", out)
    golden_acc = re.search(r"golden model\s+([\d.]+)%", out)
    c_acc = re.search(r"generated C\s+([\d.]+)% top-1 on 397 images, equals the golden model "
                      r"on all of them", out)
    assert torch_acc and golden_acc and c_acc, out
    assert c_acc.group(1) == golden_acc.group(1)
    assert float(torch_acc.group(1)) > 10.0, out   # above chance after 20 steps
    assert re.search(r"same top-1 on [\d.]+% of the images", out), out
    for made in ("digits_bnn.pt", "digits_test.npz", "digits_bnn/digits_bnn.h"):
        assert (tmp_path / "qs" / made).is_file(), made
