"""Schedule the aarch64 bconv step (4 windows' popcount trees) for in-order cores.

    python tools/schedule_trees.py > /tmp/tree4.h   # the BNN_ASM_TREE4 macro

The runs of ``cruntime/bconv_neon.c`` and the tiles an export generates
(``bconv_gen.py``, through ``instructions``) compute, per step, 4 windows x 8 output
channels: per window 8 EOR, 8 CNT, the 7-ADDP tree and one accumulate. On
Cortex-A53 (in order, one NEON pipe, llvm-mca: latency 6 for each of these)
a tree written out in order stalls on its own chain. This lists the 4 trees
cycle by cycle, taking the ready instruction of the earliest window and the
longest chain behind it (``priorities``) whose result has a free scratch
register (v12-v23), so that later windows' EORs and CNTs fill the earlier
windows' waits, and places:

- three *form* slots (one NEON instruction each, or nothing) before windows
  1, 2 and 3 start, for inputs formed from loaded vectors (EXT, ZIP) as late
  as they can be;
- four *load* slots after the last EOR, 4 cycles apart (a 4-register LD1
  keeps the load unit that long), for the next step's weights and inputs,
  so that they arrive while this step's trees finish. The loads post-
  increment their pointer, a result due ``POINTER_LATENCY`` after issue, and
  an in-order core writes results back in order (llvm-mca's A53 model holds
  the load until every result issued before it is due): a slot waits until
  the NEON results issued before it are (nearly) written, so the loads land
  in the waits of the trees' last chains instead of stalling the pipe where
  it has work.

The tree's shape (LCE's ADDP order: bytes 2c and 2c + 1 of the sum hold
channel c) is fixed; only the order of independent instructions and the
scratch registers change. tests/test_bconv_schedule.py checks that the macro
in bconv_neon.c is this output.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

LATENCY = 6        #: NEON result latency (llvm-mca's Cortex-A53 model)
LOAD_BUSY = 4      #: cycles a 4-register LD1 holds the load unit
POINTER_LATENCY = 1  #: a post-increment load's pointer result (its first write back)
SCRATCH = [f"v{i}" for i in range(12, 24)]
WEIGHTS = [f"v{i}" for i in range(24, 32)]
WINDOWS = 4
FORM_SLOTS = 3
LOAD_SLOTS = 4


@dataclass
class Insn:
    """One instruction: op, destination value, source values (``t..`` are
    scratch values, others fixed registers or macro parameters)."""

    op: str
    dst: str
    srcs: list[str]
    window: int = WINDOWS                           # whose tree (loads: none)
    deps: list[int] = field(default_factory=list)   # results it reads
    after: list[int] = field(default_factory=list)  # must issue no earlier
    busy: int = LOAD_BUSY                            # cycles a load holds the load unit


def tree(w: int, halves: bool) -> list[Insn]:
    """Vector w's popcount tree into its accumulator aw, or (halves: two
    windows' words in one vector, the last word of an odd row) its byte sums
    of the low and high word apart (UZP) into a(2w) and a(2w + 1)."""
    x, e = f"x{w}", [f"t{w}_{c}" for c in range(8)]
    insns = [Insn("eor", e[c], [x, WEIGHTS[c]]) for c in range(8)]
    insns += [Insn("cnt", e[c], [e[c]]) for c in range(8)]
    insns += [Insn("addp", e[2 * k], [e[2 * k], e[2 * k + 1]]) for k in range(4)]
    insns += [Insn("addp", e[0], [e[0], e[2]]), Insn("addp", e[4], [e[4], e[6]])]
    insns.append(Insn("addp", e[0], [e[0], e[4]]))
    if halves:
        lo, hi = f"a{2 * w}", f"a{2 * w + 1}"
        insns += [Insn("uzp1", f"t{w}_low", [e[0], e[0]]), Insn("uzp2", e[0], [e[0], e[0]]),
                  Insn("uaddw", lo, [f"t{w}_low"]), Insn("uaddw", hi, [e[0]])]
    else:
        insns.append(Insn("acc", f"a{w}", [e[0]]))
    for insn in insns:
        insn.window = w
    return insns


@dataclass(frozen=True)
class Slot:
    """A load slot of a generated tile: the values its loads overwrite (it
    issues after their last reads), the pointer it post-increments (slots of
    one pointer keep their order) and how many loads it holds."""

    overwrites: tuple[str, ...]
    pointer: str
    loads: int = 1


def program(halves: bool = False, slots: list[Slot] | None = None) -> list[Insn]:
    """The step in source order: BNN_ASM_TREE4 (form slots before their
    windows, load slots last), or with halves BNN_ASM_TREE2_HALVES (2 vectors,
    no slots). ``slots``: the step's load slots instead of LOAD_SLOTS slots
    that each wait for every read of the inputs and weights."""
    insns: list[Insn] = []
    vectors = 2 if halves else WINDOWS
    for w in range(vectors):
        if w and not halves:
            insns.append(Insn(f"form{w}", f"x{w}", [], w))
        insns += tree(w, halves)
    inputs = [f"x{w}" for w in range(vectors)]
    if slots is not None:
        insns += [Insn(f"ld{k + 1}", "", list(slot.overwrites)) for k, slot in enumerate(slots)]
    elif not halves:
        insns += [Insn(f"ld{k + 1}", "", inputs + WEIGHTS) for k in range(LOAD_SLOTS)]
    last_writer: dict[str, int] = {}
    readers: dict[str, list[int]] = {}  # of each value since its last write
    for i, insn in enumerate(insns):
        insn.deps = [last_writer[s] for s in insn.srcs if s in last_writer]
        insn.after = [j for j in readers.get(insn.dst, []) if j != i]  # UZP2 in place
        for v in insn.srcs:
            readers.setdefault(v, []).append(i)
        readers[insn.dst] = []
        if insn.op.startswith("ld"):  # after every read of what the loads overwrite
            insn.after += [j for j in range(i) if set(insns[j].srcs) & set(insn.srcs)]
            insn.srcs = []
        if insn.op.startswith("form"):  # form slots keep their order (ZIPs read in place)
            insn.after += [j for j in range(i) if insns[j].op.startswith("form")]
        last_writer[insn.dst] = i
    if slots is not None:
        first = len(insns) - len(slots)
        for k, slot in enumerate(slots):
            insns[first + k].busy = LOAD_BUSY * slot.loads
            insns[first + k].after += [first + j for j in range(k)
                                       if slots[j].pointer == slot.pointer]
    return insns


def priorities(insns: list[Insn]) -> list[int]:
    """Lower issues first: earlier windows, and within a window the instruction
    with the longest chain of results still behind it (one window later
    weighs as much as one latency more of chain)."""
    height = [0] * len(insns)
    for i in reversed(range(len(insns))):
        height[i] = max([height[k] + LATENCY for k in range(i + 1, len(insns))
                         if i in insns[k].deps], default=0)
    return [insn.window * LATENCY - h for insn, h in zip(insns, height, strict=True)]


def schedule(insns: list[Insn]) -> list[tuple[Insn, dict[str, str]]]:
    """Issue order, with the scratch register of every value at issue."""
    rank = priorities(insns)
    left = {v: 0 for insn in insns for v in insn.srcs}
    for insn in insns:
        for v in insn.srcs:
            left[v] += 1
    issued: dict[int, int] = {}
    free, reg = list(SCRATCH), {}
    order, cycle, load_free = [], 0, 0
    written = 0  # when the NEON results issued so far are all written back
    while len(issued) < len(insns):
        neon = load = False
        for _ in range(2):  # dual issue: one NEON instruction and one load a cycle
            pick = None
            for i, insn in enumerate(insns):
                if i in issued:
                    continue
                is_load = insn.op.startswith("ld")
                if (load or cycle < load_free) if is_load else neon:
                    continue
                if is_load and cycle + POINTER_LATENCY < written:
                    continue  # its pointer would be written back before earlier results
                if any(j not in issued or issued[j] + LATENCY > cycle for j in insn.deps):
                    continue
                if any(j not in issued for j in insn.after):
                    continue
                if insn.dst.startswith("t") and insn.dst not in reg and not free:
                    continue
                if is_load:
                    pick = i
                    break
                if pick is None or rank[i] < rank[pick]:
                    pick = i
            if pick is None:
                break
            insn = insns[pick]
            issued[pick] = cycle
            if insn.op.startswith("ld"):
                load, load_free = True, cycle + insn.busy
            else:
                neon, written = True, max(written, cycle + LATENCY)
            if insn.dst.startswith("t") and insn.dst not in reg:
                reg[insn.dst] = free.pop(0)
            order.append((insn, dict(reg)))
            for v in insn.srcs:
                left[v] -= 1
                if v.startswith("t") and not left[v] and v != insn.dst:
                    free.append(reg.pop(v))
        cycle += 1
    return order


def operand(v: str, reg: dict[str, str]) -> str:
    """A value's register: scratch, fixed, or a macro parameter spliced in."""
    if v.startswith("t"):
        return reg[v]
    return f'" {v} "' if v[0] in "xa" else v


def line(insn: Insn, reg: dict[str, str]) -> str:
    if insn.op.startswith(("form", "ld")):
        return f"    {insn.op}"
    if insn.op == "acc":
        return f'    acc_op " " {insn.dst} ".8h, {reg[insn.srcs[0]]}.16b\\n\\t"'
    if insn.op == "uaddw":
        a = insn.dst
        return f'    "uaddw " {a} ".8h, " {a} ".8h, {reg[insn.srcs[0]]}.8b\\n\\t"'
    regs = [operand(v, reg) + ".16b" for v in [insn.dst] + insn.srcs]
    return f'    "{insn.op} {", ".join(regs)}\\n\\t"'


@functools.cache  # a tile's steps mostly share their slots' shapes
def instructions(halves: bool, slots: tuple[Slot, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The scheduled step with its load slots as (op, operands): scratch values
    in their registers, the others as program() names them (x0.., a0..,
    form1.., ld1..), for a generator to substitute."""
    return tuple((insn.op, tuple(reg.get(v, v) for v in [insn.dst] + insn.srcs))
                 for insn, reg in schedule(program(halves, list(slots))))


def macro(halves: bool = False) -> str:
    """BNN_ASM_TREE4, or BNN_ASM_TREE2_HALVES, as C."""
    if halves:
        name, params = "BNN_ASM_TREE2_HALVES", ["x0", "a0", "a1", "x1", "a2", "a3"]
    else:
        name = "BNN_ASM_TREE4"
        params = ["acc_op"] + [f"{p}{w}" for w in range(WINDOWS) for p in "xa"]
        params += [f"form{k}" for k in range(1, FORM_SLOTS + 1)]
        params += [f"ld{k}" for k in range(1, LOAD_SLOTS + 1)]
    lines = [line(insn, reg) for insn, reg in schedule(program(halves))]
    head = f"#define {name}({', '.join(params)})"
    return " \\\n".join([head] + lines) + "\n"
