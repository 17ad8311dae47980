"""``bnn-export``: a trained model in, an IR and a standalone C project out."""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from pathlib import Path

import numpy as np

from ..errors import DataFileError
from . import flags
from .common import check_output_file, run_main, step

PROG = "bnn-export"
TARGETS = ("host", "generic", "armv7", "armv8")

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
  bnn-export model.pt --compare test.npz --plot layers.png   # where accuracy is lost
  bnn-export weights.pth --arch mypkg.models:make_net --input-shape 1,3,32,32

model files: write them with bnnkit.save(model, "model.pt", example_input,
calibration=..., normalize=(mean, std), labels=[...]). Also accepted: a
torch.export.save program, a state dict with --arch, and (only with
--trust-pickle, because unpickling runs code) a whole torch.save(model).

test sets (--test): an .npz with `images` and `labels` (N integers). Images
are float like the PyTorch model's input (N,C,H,W), or raw uint8 pixels
(N,H,W[,C]) for a model saved with normalize=. The generated C classifies
them on this machine (through cffi, whatever --target is) and bnn-export
prints the top-1 accuracy of the PyTorch program stored in the model file,
of the golden model and of the C, whether every C output equals the golden
model bit for bit, how often C and PyTorch agree on top-1 and their largest
output difference (a warning below 99% agreement), and the median time per
image.

per-layer report (--compare): every IR node's output against PyTorch's
activation of the same name, on the test set given (or the calibration
sample): the fraction of differing signs for bit tensors, the RMS error in
output steps (LSB) for int8 ones, and an SNR for both; each node measured in
the whole model and alone (on PyTorch's inputs), the node that adds the most
error first, with the model line that made it. --plot draws it (matplotlib).
The numeric contract behind these numbers: docs/numeric-contract.md.
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
    flags.add(p, "cpu")
    p.add_argument("--no-build", action="store_true", help="write the project, do not compile")
    p.add_argument("--ir-only", action="store_true", help="write graph.json + weights.npz only")
    p.add_argument("--inspect", action="store_true", help="print the layer table and exit")
    flags.add_group(p, flags.MODEL_LOADING)
    p.add_argument("--calibration", metavar="FILE.npy", type=Path,
                   help="calibration inputs (float, shaped like the model input) that "
                        "override the sample in the model file")
    p.add_argument("--test", metavar="FILE.npz", type=Path,
                   help="after generating, classify this labelled test set with the C "
                        "code here: PyTorch, golden and C accuracy, golden-model check, "
                        "agreement with PyTorch, time per image")
    p.add_argument("--compare", metavar="FILE.npz", nargs="?", type=Path, const=True,
                   help="print the per-layer report (PyTorch against the golden model) on "
                        "this test set, or on the calibration sample, and exit")
    p.add_argument("--plot", metavar="OUT.png", type=Path,
                   help="with --compare: draw the report (needs matplotlib)")
    flags.add_common(p, PROG)
    return p


def _load(args: argparse.Namespace):  # noqa: ANN202 - (Graph, ModelFile | None)
    """The IR, and the model file it came from (None for an IR directory)."""
    from .. import ir

    path = Path(args.model)
    if path.is_dir():
        return ir.load(path), None
    import torch

    from ..export.loader import load_model
    from ..export.pipeline import NoCalibrationWarning, export

    example = torch.zeros(args.input_shape) if args.input_shape else None
    from ..export.loader import load_calibration

    calibration = load_calibration(args.calibration) if args.calibration else None
    _step(args, f"exporting {path}")
    model_file = load_model(path, arch=args.arch, example_input=example,
                            trust_pickle=args.trust_pickle)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoCalibrationWarning)
        graph = export(model_file, calibration=calibration)
    if calibration is None and model_file.calibration is None:
        warnings.warn("no calibration data: INT8 ranges come from random inputs; pass "
                      "--calibration FILE.npy (or save a sample in the model file with "
                      "bnnkit.save(..., calibration=x)) for real accuracy", stacklevel=1)
    return graph, model_file


def _step(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        step(PROG, message)


def _compare(args: argparse.Namespace, graph, model_file) -> int:  # noqa: ANN001
    """``--compare``: the per-layer report on the test set or the calibration sample."""
    from ..errors import BnnkitError
    from ..export import compare
    from ..runtime.accuracy import load_labelled

    if model_file is None:
        raise BnnkitError(f"--compare needs the PyTorch model: {args.model} is an IR "
                          f"directory; pass the model.pt it came from")
    if isinstance(args.compare, Path):
        images = compare.torch_inputs(graph, load_labelled(args.compare)[0])
        where = str(args.compare)
    elif args.calibration or model_file.calibration is not None:
        from ..export.loader import load_calibration
        images = (load_calibration(args.calibration) if args.calibration
                  else model_file.calibration)
        where = "the calibration sample"
    else:
        raise DataFileError("--compare needs images: pass a test set (--compare FILE.npz) "
                            "or --calibration FILE.npy")
    _step(args, f"comparing every layer with PyTorch on {where} ({len(images)} inputs)")
    rows = compare.layer_errors(model_file.program, graph, images)
    print(compare.table(rows))
    if args.plot:
        if compare.plot(rows, args.plot) is None:
            raise BnnkitError("--plot needs matplotlib: pip install matplotlib (or install "
                              "bnnkit[bench])")
        print(f"plot written to {args.plot}")
    return 0


def _test(args: argparse.Namespace, out_dir: Path, graph, model_file, test_set) -> int:  # noqa: ANN001
    """``--test``: the C on the test set, beside the golden model and PyTorch."""
    from ..runtime import CModel
    from ..runtime.accuracy import AGREEMENT_WARNING, check_accuracy

    images, labels = test_set
    _step(args, f"classifying {args.test} with the C code (host library, cffi)")
    report = check_accuracy(CModel(out_dir), images, labels, progress=True)
    agreement = None
    if model_file is not None:
        from ..export.compare import torch_inputs, torch_outputs
        agreement = report.against(torch_outputs(model_file.program,
                                                 torch_inputs(graph, images)), labels)
    print("\n".join(report.lines(args.test, agreement)))
    if agreement is not None and agreement.top1 < AGREEMENT_WARNING:
        warnings.warn(f"C and PyTorch agree on top-1 for only {agreement.top1:.1%} of the "
                      f"test set (below {AGREEMENT_WARNING:.0%}): the conversion loses "
                      f"accuracy; bnn-export {args.model} --compare {args.test} shows which "
                      f"layer", stacklevel=1)
    return 1 if report.golden_mismatches else 0


def _body(argv: list[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.test and (args.inspect or args.ir_only or args.compare):
        parser.error("--test needs the C project: drop --inspect / --ir-only / --compare")
    if args.plot and not args.compare:
        parser.error("--plot draws the --compare report: add --compare")
    check_output_file(args.plot, "--plot")
    test_set = None
    if args.test:                      # a bad test set fails before minutes of export
        from ..runtime.accuracy import load_labelled
        test_set = load_labelled(args.test)
    model_path = Path(args.model)
    stem = model_path.stem if model_path.is_file() else model_path.name
    out_dir = args.output or model_path.with_name(f"{stem}_ir" if args.ir_only else f"{stem}_bnn")
    if not (args.inspect or args.compare):  # a refused -o or --name fails before the export
        from ..ir.atomic import writable_target
        writable_target(out_dir)
        if args.name and not args.ir_only:
            from ..codegen.emit import check_name
            check_name(args.name)
    from ..progress import quiet
    with quiet(args.quiet):
        graph, model_file = _load(args)
        if test_set is not None:       # and labels the model cannot output, before building
            from ..runtime.accuracy import check_label_range
            classes = int(np.prod(graph.tensors[graph.outputs[0]].shape))
            check_label_range(test_set[1], classes, args.test)
        if args.inspect:
            from .inspect_table import layer_table
            print(layer_table(graph))
            return 0
        if args.compare:
            return _compare(args, graph, model_file)
        if args.ir_only:
            from ..ir import save
            out = save(graph, out_dir)
            print(f"IR written to {out}/ (graph.json, weights.npz)")
            return 0
        from ..codegen import build, write_project
        from ..codegen.emit import default_name
        command_line = shlex.join([PROG, *(argv if argv is not None else sys.argv[1:])])
        _step(args, f"generating C for {args.target} in {out_dir}")
        summary = write_project(graph, out_dir, target=args.target,
                                name=args.name or default_name(stem), cpu=args.cpu,
                                command_line=command_line)
        print("\n".join(summary.lines()))
        if args.no_build:
            print(f"  not built (--no-build): make -C {out_dir} TARGET={args.target}")
        else:
            _step(args, f"building with the {args.target} compiler")
            program = build(out_dir, args.target, cpu=args.cpu)
            print(f"  program {program}  (try: {program} --selftest)")
        if test_set is not None:
            return _test(args, out_dir, graph, model_file, test_set)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_main(PROG, lambda: _body(argv))


if __name__ == "__main__":
    sys.exit(main())
