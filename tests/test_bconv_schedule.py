"""The aarch64 run steps (BNN_ASM_TREE4, BNN_ASM_TREE2_HALVES in bconv_neon.c) are
codegen/bconv_schedule.py's output (tools/schedule_trees.py prints them).

The macro is generated; this keeps the C and its generator in step. That the
order computes the same popcounts is the bconv tests' job (fastpath_check
under qemu, bit-exact against the reference).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bnnkit.codegen import bconv_schedule

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("halves", [False, True])
def test_macros_are_the_generated_schedule(halves: bool) -> None:
    source = (ROOT / "cruntime" / "bconv_neon.c").read_text()
    name = "BNN_ASM_TREE2_HALVES" if halves else "BNN_ASM_TREE4"
    m = re.search(rf"#define {name}\(.*?[^\\]\n", source, re.S)
    assert m, f"{name} not found in bconv_neon.c"
    assert m.group(0) == bconv_schedule.macro(halves), "regenerate: python tools/schedule_trees.py"


def test_schedule_keeps_every_tree_and_its_order() -> None:
    gen = bconv_schedule
    order = [insn for insn, _ in gen.schedule(gen.program())]
    assert len(order) == len(gen.program())
    for w in range(gen.WINDOWS):
        ops = [i.op for i in order if i.dst.startswith(f"t{w}_") or i.dst == f"a{w}"]
        assert ops.count("eor") == 8 and ops.count("cnt") == 8 and ops.count("addp") == 7
        assert ops[-1] == "acc"
    halves = [i for i, _ in gen.schedule(gen.program(halves=True))]
    for low, high in ((0, "a1"), (1, "a3")):  # UZP1 reads the sum before UZP2 overwrites it
        ops = [i.op for i in halves if i.window == low and i.op.startswith("uzp")]
        assert ops == ["uzp1", "uzp2"] and sum(i.dst == high for i in halves) == 1
    loads = [i.op for i in order if i.op.startswith("ld")]
    assert loads == ["ld1", "ld2", "ld3", "ld4"]
    last_eor = max(k for k, i in enumerate(order) if i.op == "eor")
    assert all(k > last_eor for k, i in enumerate(order) if i.op.startswith("ld"))
