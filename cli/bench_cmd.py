"""``bnn-bench``: how fast bnnkit's C is, measured honestly, in one run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import flags
from .common import check_output_file, run_main, step

PROG = "bnn-bench"
#: Built-in workloads (bench/workloads.py), named here so --help needs no torch import.
WORKLOAD_NAMES = ("cifar_bnn", "tiny", "quicknet_small", "quicknet", "bireal_net18",
                  "reactnet_a", "binary_densenet28", "binary_densenet37_dilated", "xnor_net",
                  "xnor_net_input_scaling", "binary_alexnet", "bwn_resnet18",
                  "binaryconnect_resnet18", "meliusnet22", "meliusnet29", "abc_resnet18",
                  "ttq_resnet18")

DESCRIPTION = """\
Benchmark bnnkit's generated C in one reproducible run:

  host  time per inference of the generated program (its own --bench, 1 thread,
        median and p90) against its peers on the same model in the same run:
        PyTorch fp32 (channels_last, inference_mode) and onnxruntime INT8
        (static QDQ quantization, per-channel weights, the same calibration
        sample), 1 thread each, warm-up, alternating rounds so that machine
        load hits all alike; the speed-ups, the CPU and its flags;
  ARM   exact instructions per inference on aarch64 and armv7, counted under
        qemu-user with bnnkit's own plugin: a driver built with the project's
        own compiler flags runs the nodes of one op kind (binary conv, INT8
        conv, add, threshold, pool, concat, other) K1 and K2 times and the
        difference per run is that kind's cost; the whole inference against the
        floor (3 instructions per 128 binary MACs + 1 per 8 INT8 MACs) and, for
        the zoo, an estimated Pi 4 latency beside Larq Compute Engine's
        published one. On small models every binary conv is counted on its own
        too, compared with the published counts of LCE and daBNN measured the
        same way.

Without a model file it runs the shared "cifar_bnn" workload of the peer
comparison (32x32x3 -> int8 stem -> five 3x3 binary convs -> linear; 377.5 M
binary MACs) with random weights: a speed workload, its outputs mean nothing.
Speed never depends on the weight values. --workload NAME runs a bnnkit.zoo
network (QuickNet, Bi-Real Net, ReActNet, ...) at 224x224 the same way.
"""

EPILOG = """\
examples:
  bnn-bench                                   # cifar_bnn: host + aarch64 + armv7
  bnn-bench --no-arm --host-runs 500          # host timing only, more samples
  bnn-bench --target armv8 --json out.json    # only aarch64 counts, keep every figure
  bnn-bench --plot bench.png                  # figure: vs the floor and the peers
  bnn-bench --workload quicknet_small --no-host --target armv8   # a zoo network
  bnn-bench model.pt                          # your bnnkit.save() model
  bnn-bench weights.pth --arch pkg.mod:make_net --input-shape 1,3,32,32

the instruction counts use bnnkit's own qemu plugin, compiled with gcc on first
use and cached in ~/.cache/bnnkit/qemu-plugin/ ($XDG_CACHE_HOME); --plugin or
$BNNKIT_QEMU_PLUGIN name another one that prints "insns: N" at exit. It needs
`qemu-user` (qemu-user-static has no -plugin) and the cross compilers
gcc-aarch64-linux-gnu and gcc-arm-linux-gnueabihf.

reading the figures: host times are noisy on shared machines (the JSON records
the load average); instruction counts are exact and repeatable, but are not
cycles: a Cortex-A72 runs NEON popcount code at roughly 1-2 instructions per
cycle.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", type=Path,
                   help="model file to benchmark instead of a built-in workload "
                        "(bnnkit.save file, torch.export program, or state dict with --arch)")
    p.add_argument("--workload", default="cifar_bnn", choices=WORKLOAD_NAMES,
                   help="built-in workload: cifar_bnn (default, the peer comparison's "
                        "network), tiny, or a bnnkit.zoo network at 224x224")
    p.add_argument("--host-runs", type=int, default=200, metavar="N",
                   help="timed inferences per side on the host (default 200)")
    p.add_argument("--rounds", type=int, default=5, metavar="R",
                   help="alternating C/peer rounds the host runs are split into "
                        "(default 5)")
    p.add_argument("--no-host", action="store_true", help="skip the host timing")
    p.add_argument("--no-arm", action="store_true", help="skip the ARM instruction counts")
    p.add_argument("--target", default="armv8,armv7", metavar="LIST",
                   help="ARM targets to count, comma separated: armv8 (aarch64), armv7 "
                        "(default: both)")
    flags.add_alias(p, "target", metavar="LIST")
    flags.add(p, "cpu", help=f"{flags.CPU_HELP} (default: the preset's generic flags)")
    p.add_argument("--threads", default="1,2,4", metavar="LIST",
                   help="thread counts of the threads section, comma separated, 1..8 "
                        "(default 1,2,4): per ARM target the busiest thread's instructions "
                        "over one thread's, on the host 1 vs 2 threads timed")
    p.add_argument("--no-threads", action="store_true", help="skip the threads section")
    p.add_argument("--plugin", type=Path, metavar="FILE",
                   help="another qemu instruction-count plugin (default: bnnkit's own)")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="write every figure here")
    p.add_argument("--plot", type=Path, metavar="OUT.png",
                   help="figure: instructions per binary conv against the floor, host time "
                        "against the peers (needs matplotlib)")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="keep the generated C project in DIR (default: a temp dir)")
    flags.add_group(p, flags.MODEL_LOADING)
    flags.add_common(p, PROG)
    return p


def _options(args: argparse.Namespace, parser: argparse.ArgumentParser):  # noqa: ANN202
    from ..bench.runner import ARM_TARGETS, Options

    targets = tuple(t.strip() for t in args.target.split(",") if t.strip())
    bad = [t for t in targets if t not in ARM_TARGETS]
    if bad:
        parser.error(f"--target: unknown {', '.join(bad)}; use armv8 and/or armv7")
    if args.host_runs < args.rounds or args.rounds < 1:
        parser.error("--host-runs must be at least --rounds (and --rounds at least 1)")
    try:
        counts = tuple(sorted({int(t) for t in args.threads.split(",") if t.strip()}))
    except ValueError:
        counts = ()
    if not args.no_threads and (not counts or not all(1 <= t <= 8 for t in counts)):
        parser.error(f"--threads {args.threads!r}: write thread counts 1..8 as 1,2,4")
    return Options(workload=args.workload, model_path=args.model, arch=args.arch,
                   input_shape=args.input_shape, trust_pickle=args.trust_pickle,
                   host_runs=args.host_runs, rounds=args.rounds, host=not args.no_host,
                   targets=() if args.no_arm else targets, plugin=args.plugin, cpu=args.cpu,
                   keep=args.keep, threads=() if args.no_threads else counts)


def _progress(quiet: bool):  # noqa: ANN001, ANN202
    from ..bench.runner import Progress

    if quiet or not sys.stderr.isatty():  # no escape codes in logs and pipes
        return Progress(0), None
    from tqdm import tqdm

    bar = tqdm(total=0, desc=PROG, unit="step", file=sys.stderr, leave=True,
               bar_format="{desc}: {n_fmt}/{total_fmt} {bar} {elapsed} {postfix}")

    def show(message: str, total: int | None = None) -> None:
        if total is not None:
            bar.reset(total=total)
        if message:
            bar.set_postfix_str(message)

    return Progress(0, show, bar.update), bar


def _body(argv: list[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    options = _options(args, parser)
    check_output_file(args.json, "--json")   # before the run, not after its minutes
    check_output_file(args.plot, "--plot")
    if args.model is not None and not args.model.is_file():
        from ..errors import ModelFileError
        raise ModelFileError(f"{args.model}: no such file")
    if options.targets:  # fail before the long host part if the plugin is missing
        from ..bench.insns import find_plugin
        find_plugin(options.plugin)
    from ..bench import report as rep
    from ..bench.runner import run_benchmark

    progress, bar = _progress(args.quiet)
    try:
        result = run_benchmark(options, progress)
    finally:
        if bar is not None:
            bar.close()
    print(rep.text(result))
    if args.json:
        rep.write_json(result, args.json)
        step(PROG, f"figures written to {args.json}")
    if args.plot:
        from ..bench.plot import plot
        if plot(result, args.plot) is None:
            step(PROG, "no plot: matplotlib is not installed (pip install 'bnnkit[bench]')")
        else:
            step(PROG, f"plot written to {args.plot}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_main(PROG, lambda: _body(argv))


if __name__ == "__main__":
    sys.exit(main())
