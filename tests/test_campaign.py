"""A fixed slice of the randomized campaign (``python -m tests.campaign``), on every commit.

Seeds that together generate every layer and option of the campaign's
generator run on host with AddressSanitizer and UBSan, three of them on
every other flavor; and the campaign's own checks are shown to fail on a
wrong golden byte and on a model that writes past its arena.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .campaign import cbatch, log
from .campaign.__main__ import CROSS, main
from .campaign.generator import TAGS, covering_seeds, make_case
from .campaign.runner import prepare, run, save_repro
from .randgraph import need_target, random_input, tiny_graph


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One campaign directory, so the C runtime compiles once per flavor for all tests."""
    return tmp_path_factory.mktemp("campaign")


@pytest.fixture(scope="module")
def slice_records(out: Path) -> list[dict]:
    for target in ("host", *CROSS):
        need_target(cbatch.FLAVORS[target][0])
    seeds = covering_seeds(range(200))
    plan = {s: ["host-asan", *(CROSS if i < 3 else ())] for i, s in enumerate(seeds)}
    return list(run(plan, out, workers=1, batch=len(seeds)))


def test_slice_is_exact_on_every_flavor_and_covers_every_option(slice_records: list[dict]
                                                                 ) -> None:
    summary = log.summarize(slice_records)
    assert not summary["failures"], summary["failures"]
    assert [t for t in TAGS if t not in summary["tags"]] == []
    runs = {f: c["models"] for f, c in summary["flavors"].items()}
    assert runs["host-asan"] >= 8 and all(runs[f] == 3 for f in CROSS), runs


def _tiny_batch(out: Path, flavor: str) -> tuple[Path, cbatch.Flags, list[Path]]:
    tools = prepare([flavor], out / "cache")
    where = out / f"tiny-{flavor}"
    where.mkdir()
    cbatch.link_runtime_headers(where)
    graph = tiny_graph()
    for name in ("good", "bad"):
        cbatch.write_model(graph, name, where, random_input(graph, 2, 0))
    return where, tools.flags[flavor], tools.runtime[flavor]


def test_a_wrong_golden_byte_is_a_mismatch(out: Path) -> None:
    where, flags, runtime = _tiny_batch(out, "host")
    vectors = where / "bad_testvectors.c"
    text = vectors.read_text()
    head, outputs = text.split("bad_testvector_outputs", 1)
    outputs = re.sub(r"0x([0-9a-f]{2})", lambda m: f"0x{int(m[1], 16) ^ 1:02x}", outputs,
                     count=1)
    vectors.write_text(head + "bad_testvector_outputs" + outputs)
    result = cbatch.check_batch(["good", "bad"], where, "host", flags, runtime)
    assert result.outcome["good"] == "ok"
    assert result.outcome["bad"].startswith("mismatch: vector 0: byte 0 of 10"), result.outcome


def test_an_arena_overrun_is_a_sanitizer_report(out: Path) -> None:
    where, flags, runtime = _tiny_batch(out, "host-asan")
    header = where / "bad.h"
    size = int(re.search(r"#define BAD_ARENA_SIZE (\d+)", header.read_text())[1])
    header.write_text(header.read_text().replace(f"BAD_ARENA_SIZE {size}",
                                                 f"BAD_ARENA_SIZE {size - 8}"))
    result = cbatch.check_batch(["bad", "good"], where, "host-asan", flags, runtime)
    assert result.outcome["bad"].startswith("sanitizer: "), result.outcome
    assert "heap-buffer-overflow" in result.outcome["bad"]
    assert result.outcome["good"] == "ok"  # the driver resumed after the report


def test_replay_one_seed_and_its_repro(out: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--seed", "7", "--targets", "host-asan", "--out", str(out)]) == 0
    assert 'seed 7: {"host-asan": "ok"}' in capsys.readouterr().out
    record = {"seed": 7, "results": {"host-asan": "mismatch: vector 0: byte 3"}}
    where = Path(save_repro(make_case(7), ["host-asan"], out, record, {"host-asan": "log"}))
    notes = (where / "README.txt").read_text()
    assert "python -m tests.campaign --seed 7 --targets host-asan" in notes
    import bnnkit
    assert bnnkit.export(where / "model.pt").nodes  # the saved model file exports
