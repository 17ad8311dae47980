"""llvm-mca cycles per 128 binary MACs of the binary-conv inner loops.

aarch64: the project's ``runtime/bconv_neon.c`` is compiled to assembly with
the target's compiler and flags; each inline-asm statement GCC wraps in
``#APP`` / ``#NO_APP`` is one run kernel (``count_run8``, ``bits_runs8``,
``bits_row_runs8`` for each run shape; the looping tiles are left out). Its
loop body (the block loop ``10:`` of the bit-output kernels; the straight
kernels whole) goes to llvm-mca for each core, and the steady-state cycles
per iteration over its EOR count (one EOR is 128 binary
MACs) is the figure. Kernels are told apart by what only they contain.
Both targets: the tiles generated for the model (its own C file), the same
way. armv7's llvm-mca has a Cortex-A72 model only (none of the A7 or A53).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ToolchainError

#: Cores of the Raspberry Pis: 3 (A53), 4 (A72), 5 (A76).
CORES = ("cortex-a53", "cortex-a72", "cortex-a76")
#: Per target: llvm-mca's triple, the cores it models, how GCC marks an asm
#: statement (start, end) and a generated tile's block loop (label, branch).
ARCH = {
    "armv8": ("aarch64", CORES, (r"#APP\n", r"#NO_APP"), ("10:", "b.ne", "10b")),
    "armv7": ("armv7", ("cortex-a72",), (r'@ \d+ "[^"]*" 1\n', r'@ 0 "" 2'), ("1:", "bne", "1b")),
}
ITERATIONS = 10  #: the kernels are hundreds of instructions: steady state within 0.01

#: (label, predicate on the asm text) in the order of the report; the first match wins.
SHAPES = (
    ("run 3x3, 64 ch", lambda s: "ext\tv9.16b" in s or "ext v9.16b" in s),
    ("run 3x3, 256 ch", lambda s: "{v8.2d, v9.2d, v10.2d, v11.2d}" in s),
    ("run 3x3, 128 ch", lambda s: "{v0.2d, v1.2d, v2.2d, v3.2d}" in s),
)
#: The kernel's output, told by its loops: a strip row's runs loop twice.
OUTPUTS = (("strip row, bits", "20:"), ("bits", "10:"), ("int8 / counts", None))


def _eors(asm: str) -> int:
    return sum(1 for ln in asm.splitlines() if ln.strip().startswith(("eor", "veor")))


def kernels(asm: str) -> dict[tuple[str, str], str]:
    """(shape, output) -> the loop body of each straight kernel in GCC's asm."""
    found: dict[tuple[str, str], str] = {}
    for block in re.findall(r"#APP\n(.*?)#NO_APP", asm, re.S):
        lines = [ln.strip() for ln in block.splitlines()
                 if ln.strip() and not ln.strip().startswith("//")]
        text = "\n".join(lines)
        if any(re.fullmatch(r"\d+:", ln) and ln not in ("10:", "20:") for ln in lines):
            continue  # the looping tiles of other window shapes
        output = next(o for o, label in OUTPUTS if label is None or label in lines)
        shape = next((name for name, match in SHAPES if match(text)), None)
        if shape is None or (shape, output) in found:
            continue
        if "10:" in lines:
            start = lines.index("10:") + 1
            end = max(i for i, ln in enumerate(lines) if ln.startswith("b.ne") and "10b" in ln)
            lines = lines[start:end]
        found[(shape, output)] = "\n".join(lines) + "\n"
    return found


def generated(asm: str, target: str = "armv8") -> dict[tuple[str, str], str]:
    """(shape, output) -> the body of each generated tile in the model's asm: a
    ``_bits`` function's block loop, a ``_count`` function's asm whole."""
    _, _, (start, end), (label, branch, back) = ARCH[target]
    found: dict[tuple[str, str], str] = {}
    for shape, kind, text in re.findall(r"^tile8_(\w+?)_(bits|count):\n(.*?)^\s*\.size",
                                        asm, re.S | re.M):
        block = re.search(f"{start}(.*?){end}", text, re.S)
        if block is None:
            continue
        lines = [ln.strip() for ln in block.group(1).splitlines()
                 if ln.strip() and not ln.strip().startswith(("//", "@"))]
        if kind == "bits":
            stop = max(i for i, ln in enumerate(lines) if ln.startswith(branch) and back in ln)
            lines = lines[lines.index(label) + 1:stop]
        kh, rest = shape.split("x", 1)
        kw, nwords = rest.split("_w")
        label_ = f"gen {kh}x{kw}, {64 * int(nwords)} ch"
        found[(label_, "bits" if kind == "bits" else "int8 / counts")] = "\n".join(lines) + "\n"
    return found


def cycles_per_128(body: str, core: str, mca: str = "llvm-mca", triple: str = "aarch64"
                   ) -> float:
    """Steady-state llvm-mca cycles of ``body`` on ``core`` per EOR."""
    out = subprocess.run([mca, f"-mtriple={triple}", f"-mcpu={core}",
                          f"-iterations={ITERATIONS}"], input=body, capture_output=True,
                         text=True)
    m = re.search(r"Total Cycles:\s+(\d+)", out.stdout)
    if out.returncode != 0 or m is None:
        raise ToolchainError(f"llvm-mca failed on {core}: {out.stderr.strip()[:200]}")
    return int(m.group(1)) / ITERATIONS / _eors(body)


def _asm(compile_args: list[str], project: Path, source: Path, tmp: str) -> str:
    """The assembly GCC emits for one of the project's C files."""
    out = Path(tmp) / f"{source.stem}.s"
    cmd = [*compile_args, "-S", "-I", str(project), "-I", str(project / "runtime"), str(source),
           "-o", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise ToolchainError(f"compiling {source.name} to asm failed: {res.stderr[:300]}")
    return out.read_text()


def kernel_cycles(project: Path, compile_args: list[str], target: str = "armv8"
                  ) -> dict[str, Any] | None:
    """Per kernel and core, cycles per 128 binary MACs (None without llvm-mca):
    aarch64 the runtime's run kernels and the generated tiles, armv7 the
    generated tiles."""
    mca = shutil.which("llvm-mca")
    if mca is None:
        return None
    triple, cores, _, _ = ARCH[target]
    name = json.loads((project / "plan.json").read_text())["name"]
    with tempfile.TemporaryDirectory(prefix="bnnmca-") as tmp:
        found = (kernels(_asm(compile_args, project, project / "runtime" / "bconv_neon.c", tmp))
                 if target == "armv8" else {})
        tiles = generated(_asm(compile_args, project, project / f"{name}.c", tmp), target)
    version = subprocess.run([mca, "--version"], capture_output=True, text=True).stdout
    bodies = [((shape, output), found[(shape, output)])
              for shape, _ in SHAPES for output, _ in OUTPUTS if (shape, output) in found]
    rows = [{"shape": shape, "output": output,
             "cycles": {core: round(cycles_per_128(body, core, mca, triple), 2)
                        for core in cores}}
            for (shape, output), body in [*bodies, *tiles.items()]]
    return {"method": (f"llvm-mca {ITERATIONS} iterations of each kernel's loop body as "
                       f"{Path(compile_args[0]).name} emits it ({' '.join(compile_args[1:])}), "
                       "cycles per EOR (128 binary MACs)"),
            "llvm_mca": next((ln.strip() for ln in version.splitlines() if "version" in ln), ""),
            "kernels": rows}
