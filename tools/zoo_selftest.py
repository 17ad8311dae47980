"""Self-test a zoo model's 224x224 export on ARM under qemu-user.

    PYTHONPATH=... python tools/zoo_selftest.py MODEL [TARGET ...] [--out DIR]

The model (``bnnkit.zoo``, random weights and trained-looking statistics from
``zoo.randomize``) is exported once, with a random calibration batch; for each
target (default: armv8 armv7) the C project is written with 3 golden test
vectors, cross-built and run with ``--selftest`` under qemu: the program
compares its outputs with the golden model's, bit for bit. Prints one line per
target and exits 1 if any fails. Minutes per target on a 2-core host: run it
under ``nice``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import torch

from bnnkit import export, zoo
from bnnkit.codegen import build, write_project
from bnnkit.codegen.build import emulator_command
from bnnkit.ir.stats import graph_stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", choices=sorted(zoo.MODELS))
    # checked below, not by choices=: argparse (3.11) checks the empty list of a
    # nargs="*" positional (or its list default) against the choices as one value
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="armv8, armv7, generic or host (default: armv8 armv7)")
    parser.add_argument("--out", type=Path, default=Path("out/zoo_selftest"))
    args = parser.parse_args()
    args.targets = args.targets or ["armv8", "armv7"]
    unknown = sorted(set(args.targets) - {"armv8", "armv7", "generic", "host"})
    if unknown:
        parser.error(f"unknown target {unknown[0]}: use armv8, armv7, generic or host")
    start = time.perf_counter()
    model = zoo.randomize(zoo.MODELS[args.model](), seed=0)
    g = torch.Generator().manual_seed(0)
    size = zoo.RESOLUTION
    graph = export(model, torch.zeros(1, 3, size, size),
                   torch.randn(8, 3, size, size, generator=g))
    stats = graph_stats(graph)
    print(f"{args.model}: exported in {time.perf_counter() - start:.0f} s; binary MACs "
          f"{sum(s.binary_macs for s in stats) / 1e9:.3f} G, INT8 MACs "
          f"{sum(s.int8_macs for s in stats) / 1e6:.1f} M", flush=True)
    failed = 0
    for target in args.targets:
        out = args.out / f"{args.model}_{target}"
        write_project(graph, out, target=target, name=args.model)
        program = build(out, target)
        run = subprocess.run([*emulator_command(target), str(program), "--selftest"],
                             capture_output=True, text=True)
        last = (run.stdout.strip().splitlines() or ["(no output)"])[-1]
        ok = run.returncode == 0
        failed += not ok
        print(f"{args.model} {target}: {'passed' if ok else 'FAILED'}: {last} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
        if not ok:
            print(run.stdout + run.stderr, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
