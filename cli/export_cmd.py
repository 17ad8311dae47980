"""``bnn-export``: a trained model in, an IR and a standalone C project out."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

from ..errors import InputShapeError
from .common import run_main, step

PROG = "bnn-export"
TARGETS = ("host", "generic", "armv7", "armv8")
CPUS = ("cortex-a53", "cortex-a72", "cortex-a76")

DESCRIPTION = """\
Export a binary neural network trained with bnnkit.nn layers to bnnkit's
integer IR and a standalone C99 project (no malloc, no dependencies).

BatchNorm + sign fold into integer thresholds, real-valued layers become
INT8 (calibrated on the sample stored in the model file), binary weights are
bit-packed once. The project is written whole or not at all.

targets:
  armv8    64-bit Raspberry Pi OS (Pi 3/4/5): NEON kernels, aarch64-linux-gnu-gcc
  armv7    32-bit Raspberry Pi OS: NEON kernels, arm-linux-gnueabihf-gcc
  generic  portable C99 for any CPU (Pi Zero/1 included), the host cc
  host     this machine, with its fast popcount path (for testing and cffi)
"""

EPILOG = """\
examples:
  bnn-export model.pt --target armv8            # C project in ./model_bnn/, built
  bnn-export model.pt -o out/m --test test.npz  # then classify a labelled test set in C
  bnn-export model.pt --target armv7 --cpu cortex-a72 -o build/pi4
  bnn-export model.pt --ir-only -o model_ir     # graph.json + weights.npz only
  bnn-export --inspect model.pt                 # layer table: MACs, weight bytes
  bnn-export weights.pth --arch mypkg.models:make_net --input-shape 1,3,32,32

model files: write them with bnnkit.save(model, "model.pt", example_input,
calibration=..., normalize=(mean, std), labels=[...]). Also accepted: a
torch.export.save program, a state dict with --arch, and (only with
--trust-pickle, because unpickling runs code) a whole torch.save(model).

test sets (--test): an .npz with `images` and `labels` (N integers). Images
are float like the PyTorch model's input (N,C,H,W), or raw uint8 pixels
(N,H,W[,C]) for a model saved with normalize=. The generated C classifies
them on this machine (through cffi, whatever --target is) and bnn-export
prints top-1 accuracy, whether every output equals the golden model bit for
bit, and the median time per image.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model.pt from bnnkit.save (or an IR directory with --inspect)")
    p.add_argument("-o", "--output", metavar="DIR", type=Path,
                   help="output directory (default: next to the model, <stem>_bnn or <stem>_ir)")
    p.add_argument("--target", choices=TARGETS, default="host",
                   help="what the C code is built for (default: host)")
    p.add_argument("--name", help="C symbol prefix and program name (default: from the file)")
    p.add_argument("--cpu", choices=CPUS, help="tune for a Pi core: Pi 3 cortex-a53, Pi 4 "
                                               "cortex-a72, Pi 5 cortex-a76")
    p.add_argument("--no-build", action="store_true", help="write the project, do not compile")
    p.add_argument("--ir-only", action="store_true", help="write graph.json + weights.npz only")
    p.add_argument("--inspect", action="store_true", help="print the layer table and exit")
    p.add_argument("--arch", metavar="MODULE:FACTORY",
                   help="for a state dict: the function that builds the model")
    p.add_argument("--input-shape", metavar="N,C,H,W",
                   help="input shape, needed with --arch or --trust-pickle")
    p.add_argument("--calibration", metavar="FILE.npy", type=Path,
                   help="calibration inputs (float, shaped like the model input) that "
                        "override the sample in the model file")
    p.add_argument("--test", metavar="FILE.npz", type=Path,
                   help="after generating, classify this labelled test set with the C "
                        "code here: accuracy, golden-model check, time per image")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow loading a whole pickled module (runs code from the file)")
    return p


def _load_graph(args: argparse.Namespace):  # noqa: ANN202 - returns bnnkit.ir.Graph
    from .. import ir

    path = Path(args.model)
    if path.is_dir():
        return ir.load(path)
    import torch

    from ..export.pipeline import export

    example = None
    if args.input_shape:
        try:
            shape = tuple(int(d) for d in args.input_shape.split(","))
        except ValueError:
            raise InputShapeError(f"--input-shape {args.input_shape!r}: write it as N,C,H,W "
                                  f"or N,F") from None
        example = torch.zeros(shape)
    from ..export.loader import load_calibration

    calibration = load_calibration(args.calibration) if args.calibration else None
    step(PROG, f"exporting {path}")
    return export(path, example, calibration, arch=args.arch, trust_pickle=args.trust_pickle)


def _body(argv: list[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.test and (args.inspect or args.ir_only):
        parser.error("--test needs the C project: drop --inspect / --ir-only")
    test_set = None
    if args.test:                      # a bad test set fails before minutes of export
        from ..runtime.accuracy import load_labelled
        test_set = load_labelled(args.test)
    model_path = Path(args.model)
    stem = model_path.stem if model_path.is_file() else model_path.name
    out_dir = args.output or model_path.with_name(f"{stem}_ir" if args.ir_only else f"{stem}_bnn")
    if not args.inspect:               # a refused -o or --name fails before the export, too
        from ..ir.atomic import writable_target
        writable_target(out_dir)
        if args.name and not args.ir_only:
            from ..codegen.emit import check_name
            check_name(args.name)
    graph = _load_graph(args)
    if test_set is not None:           # and labels the model cannot output, before building
        from ..runtime.accuracy import check_label_range
        classes = int(np.prod(graph.tensors[graph.outputs[0]].shape))
        check_label_range(test_set[1], classes, args.test)
    if args.inspect:
        from .inspect_table import layer_table
        print(layer_table(graph))
        return 0
    if args.ir_only:
        from ..ir import save
        out = save(graph, out_dir)
        print(f"IR written to {out}/ (graph.json, weights.npz)")
        return 0
    from ..codegen import build, write_project
    from ..codegen.emit import default_name
    command_line = shlex.join([PROG, *(argv if argv is not None else sys.argv[1:])])
    step(PROG, f"generating C for {args.target} in {out_dir}")
    summary = write_project(graph, out_dir, target=args.target,
                            name=args.name or default_name(stem), cpu=args.cpu,
                            command_line=command_line)
    print("\n".join(summary.lines()))
    if args.no_build:
        print(f"  not built (--no-build): make -C {out_dir} TARGET={args.target}")
    else:
        step(PROG, f"building with the {args.target} compiler")
        program = build(out_dir, args.target, cpu=args.cpu)
        print(f"  program {program}  (try: {program} --selftest)")
    if test_set is not None:
        from ..runtime import CModel
        from ..runtime.accuracy import check_accuracy
        step(PROG, f"classifying {args.test} with the C code (host library, cffi)")
        report = check_accuracy(CModel(out_dir), *test_set, progress=sys.stderr.isatty())
        print("\n".join(report.lines(args.test)))
        if report.golden_mismatches:
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_main(PROG, lambda: _body(argv))


if __name__ == "__main__":
    sys.exit(main())
