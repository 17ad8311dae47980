"""``bnn-demo``: live demos running bnnkit's generated C on camera frames."""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from . import flags
from .common import run_main, step

PROG = "bnn-demo"

DESCRIPTION = """\
Live demos of binary networks running as generated C (through cffi) on
camera frames, on this machine or on a Raspberry Pi.

  classify   top-3 classes of the centre of each frame (Fashion-MNIST
             clothes, or handwritten digits on paper), with FPS and latency
  pose       a person's skeleton (17 COCO keypoints) from a binary pose
             network, with FPS and latency

Run `bnn-demo DEMO --help` for a demo's options.
"""

CLASSIFY_DESCRIPTION = """\
Classify the centre of each frame with a BNN compiled to C.

The model is exported and built once (cached under ~/.cache/bnnkit/demos by
file hash and IR hash). Each frame: centre crop (the box on the overlay),
grey, resize to the model input (28x28), optional invert / auto-contrast /
Otsu threshold, then the C model; confidences are the softmax of its
dequantized logits. The overlay shows the top 3, frames per second, the C
inference time and the whole-frame time.

models:
  fashion   Fashion-MNIST clothes (shipped), white object on dark background
  fashion_bireal
            the same clothes; a real-valued shortcut around every binary conv
            (Bi-Real Net), more accurate (shipped)
  digits    handwritten digits (shipped): dark ink on white paper; inverts
            and auto-contrasts by default
  PATH      a model.pt from bnnkit.save(..., normalize=(mean, std), labels=...),
            an IR directory, or a generated project (with --library: a
            prebuilt .so, no compiler, torch or jinja2 needed)

sources:
  auto              Pi camera (picamera2) if present, else the first /dev/video*
  picamera2         Raspberry Pi camera module
  v4l2:/dev/videoN  USB webcam
  file:PATH         video, image or folder of images (looped)
  synthetic         the model's shipped test images on a noisy canvas

displays:
  web[:PORT]        page with the live MJPEG stream and stats (default port 8000)
  window            an OpenCV window (needs a desktop)
  file:OUT.mp4      write the annotated video
  none              stats on the terminal only
"""

POSE_DESCRIPTION = """\
Estimate a person's pose with a binary network compiled to C.

Each frame: find the person (--person), cut a square around them, grey,
64x64, then the C model: 17 heatmaps of 16x16 whose peaks, refined to
sub-pixel, are the COCO keypoints; a joint's confidence is the probability
mass around its peak. The overlay draws the limbs between joints seen with
confidence >= --min-confidence (the person's left in green, right in
orange), the crop's square, FPS, the C inference time and the whole-frame
time.

The shipped model (MODEL pose) was distilled from the BlazePose teacher
(mediapipe) on real footage: its keypoints imitate that model, not human
annotators.

person:
  detect    a binary person detector (generated C, like the pose network)
            proposes 2 squares each frame, the last frame's keypoints a third;
            the network keeps the one where it sees the most joints (default)
  track     the square around the last frame's keypoints, as BlazePose does;
            to start and when the person is lost, the network tries the
            detector's square and squares sliding over the frame and keeps
            the one where it sees the most joints
  full      the whole frame is the person (someone in front of a webcam)

sources and displays: as for `bnn-demo classify` (file:PATH, v4l2:/dev/videoN,
picamera2, auto; web[:PORT], window, file:OUT.mp4, none); `synthetic` plays
the shipped held-out clip (a cyclist the model never trained on).
"""

POSE_EPILOG = """\
examples:
  bnn-demo pose --source file:walk.mp4 --display web      # open http://127.0.0.1:8000/
  bnn-demo pose --source v4l2:/dev/video0 --person full --smooth 0.5 --display window
  bnn-demo pose --host pi@raspberrypi --source picamera2 --display web:8000
"""

EPILOG = """\
examples:
  bnn-demo classify --source synthetic --display web        # open http://127.0.0.1:8000/
  bnn-demo classify digits --source v4l2:/dev/video0 --display window
  bnn-demo classify digits --source file:digits.mp4 --display file:out.mp4
  bnn-demo classify --source picamera2 --display web:8080 --bind 0.0.0.0   # on a Pi
  bnn-demo classify build/project --library build/libmodel.so --source picamera2
  bnn-demo classify --host pi@raspberrypi --source picamera2 --display web:8000
      # deploys, runs on the Pi, open http://127.0.0.1:8000/ here
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version",
                   version=f"{PROG} (bnnkit) {flags.__version__}")
    sub = p.add_subparsers(dest="demo", metavar="DEMO", required=True)
    c = sub.add_parser("classify", help="top-3 classification of camera frames",
                       description=CLASSIFY_DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _model(c, "fashion", "fashion, fashion_bireal, digits or PATH (default: fashion)")
    _common(c, source_default="auto")
    c.add_argument("--invert", action=argparse.BooleanOptionalAction, default=None,
                   help="invert grey levels (dark ink on paper -> white on black); default: "
                        "on for digits")
    c.add_argument("--autocontrast", action=argparse.BooleanOptionalAction, default=None,
                   help="stretch the 1st..99th percentile to 0..255; default: on for digits")
    c.add_argument("--threshold", action="store_true", help="Otsu black and white after that")
    c.add_argument("--crop", type=flags.number(float, lambda v: 0 < v <= 1,
                                               "a fraction > 0 and <= 1"), default=0.8,
                   help="centre crop as a fraction of the short side (default 0.8)")
    c.add_argument("--hold", type=flags.POSITIVE_INT, default=15,
                   help="synthetic source: frames per test image (default 15)")
    c.add_argument("--preset", choices=("fashion", "fashion_bireal", "digits"),
                   help="with a MODEL PATH: use a shipped model's preprocessing defaults and "
                        "synthetic test images")
    _remote(c)
    q = sub.add_parser("pose", help="skeleton of a person in camera frames",
                       description=POSE_DESCRIPTION, epilog=POSE_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _model(q, "pose", "pose (shipped) or PATH (default: pose)")
    _common(q, source_default="auto")
    q.add_argument("--person", choices=("detect", "track", "full"), default="detect",
                   help="where the person is: the binary person detector (default), follow "
                        "the last frame's keypoints, or the whole frame")
    q.add_argument("--person-library", help=argparse.SUPPRESS)   # set by --host on the device
    q.add_argument("--smooth", type=flags.number(float, lambda v: 0 <= v < 1,
                                                 ">= 0 (off) and < 1"),
                   default=0.0, metavar="A",
                   help="smooth keypoints across frames: new = A * previous + (1 - A) * "
                        "measured (default 0: off; 0.5 steadies a webcam)")
    q.add_argument("--min-confidence", type=flags.number(float, lambda v: 0 <= v <= 1,
                                                         "from 0 to 1"),
                   default=0.3, metavar="C",
                   help="draw joints with confidence >= C (default 0.3)")
    _remote(q)
    return p


def _model(c: argparse.ArgumentParser, default: str, help: str) -> None:
    """The model is positional, as in the other commands (``--model`` still works)."""
    c.add_argument("model", nargs="?", default=argparse.SUPPRESS, metavar="MODEL", help=help)
    flags.add_alias(c, "model")
    c.set_defaults(default_model=default)  # not model=: set_defaults would reset both spellings


def _common(c: argparse.ArgumentParser, source_default: str) -> None:
    c.add_argument("--source", default=source_default,
                   help="auto, picamera2, v4l2:/dev/videoN, file:PATH, synthetic (default: "
                        f"{source_default})")
    c.add_argument("--display", default="web",
                   help="web[:PORT], window, file:OUT.mp4 or none (default: web on port 8000)")
    c.add_argument("--bind", default="127.0.0.1", metavar="ADDR",
                   help="address the web view listens on (default 127.0.0.1, this machine "
                        "only; 0.0.0.0 lets the network watch)")
    c.add_argument("--frames", type=flags.POSITIVE_INT, metavar="N",
                   help="stop after N frames")
    c.add_argument("--fps", type=flags.POSITIVE, metavar="RATE",
                   help="at most RATE frames per second (default: a video's own rate, 2 for "
                        "images, 15 for synthetic frames; a camera sets its own)")
    c.add_argument("--library", metavar="LIB.so",
                   help="prebuilt shared library of the project given as MODEL")
    flags.add(c, "quiet", help="no per-second status lines")
    c.add_argument("--stop-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)


def _remote(c: argparse.ArgumentParser) -> None:
    r = c.add_argument_group("on a Raspberry Pi (--host)", "deploy the model with bnnkit.deploy, "
                             "run the demo there, forward the web view here over SSH; the Pi "
                             "needs python3-numpy, python3-cffi, python3-opencv")
    r.add_argument("--host", metavar="[USER@]PI", help="run on this device over SSH")
    flags.add_group(r, flags.CONNECTION)
    r.add_argument("--target", choices=("auto", "armv8", "armv7", "generic"), default="auto",
                   help="build for this target instead of the probed one (default: auto)")
    flags.add(r, "cpu", help=f"{flags.CPU_HELP} (default: probed)")
    r.add_argument("--remote-python", default="python3", metavar="PROGRAM",
                   help="the device's Python with numpy, cffi and cv2 (default python3)")
    r.add_argument("--remote-dir", default="bnnkit", metavar="PATH",
                   help="where releases and the demo code go on the device (default ~/bnnkit)")


def _classify(args: argparse.Namespace) -> int:
    from ..demos import sources
    from ..demos.classification.engine import resolve_model
    from ..demos.classification.presets import PRESETS
    preset = PRESETS.get(args.preset or args.model)
    model = resolve_model(args.model)
    invert = args.invert if args.invert is not None else bool(preset and preset.invert)
    autocontrast = (args.autocontrast if args.autocontrast is not None
                    else bool(preset and preset.autocontrast))
    if args.host:
        from ..demos.remote import run_remote
        extra = ["--crop", str(args.crop), "--hold", str(args.hold),
                 "--invert" if invert else "--no-invert",
                 "--autocontrast" if autocontrast else "--no-autocontrast"]
        extra += ["--preset", preset.name] if preset else []
        extra += ["--threshold"] if args.threshold else []
        return run_remote(args, model, "classify", extra, lambda m: step(PROG, m))

    def synthetic() -> sources.FrameSource:
        if preset is None:
            raise sources.SourceError("--source synthetic needs a shipped model (fashion, "
                                      "fashion_bireal or digits: their test images ship "
                                      "with bnnkit)")
        images, labels = preset.test_images()
        return sources.SyntheticSource(images, labels, paper=preset.paper, hold=args.hold)

    source = _open_source(args, synthetic)
    from ..demos.classification.pipeline import Classifier, run
    classifier = _load(args, model, source, Classifier, args.library)
    pre = classifier.preprocess(crop=args.crop, threshold=args.threshold, invert=invert,
                                autocontrast=autocontrast)
    labels = classifier.labels

    def status(result) -> str:  # noqa: ANN001 - FrameResult
        k, p = result.top[0]
        return f"{labels[k]} {100 * p:.1f}%"

    title = f"classification, {preset.title if preset else Path(args.model).name}"
    results = _serve(args, source, title,
                     lambda display, report: run(classifier, source, display, pre,
                                                 frames=args.frames,
                                                 max_fps=args.fps or source.fps,
                                                 on_result=report), status)
    known = [r for r in results if r.truth is not None]
    right = sum(r.top[0][0] == r.truth for r in known)
    _summary(results, f"; top-1 {right}/{len(known)} = {right / len(known):.1%} on labelled "
                      f"frames" if known else "")
    return 0


def _pose(args: argparse.Namespace) -> int:
    from ..demos import sources
    from ..demos.pose.presets import HELDOUT_CLIP, PERSON_MODEL, resolve_pose_model
    model = resolve_pose_model(args.model)
    if args.host:
        from ..demos.remote import run_remote
        extra = ["--person", args.person, "--smooth", str(args.smooth),
                 "--min-confidence", str(args.min_confidence)]
        also = {} if args.person == "full" else {"--person-library": PERSON_MODEL}
        return run_remote(args, model, "pose", extra, lambda m: step(PROG, m), also)
    source = _open_source(args, lambda: sources.FileSource(
        HELDOUT_CLIP, description="the held-out clip (bikes.mp4, never trained on)"))
    from ..demos.pose.detector import PersonDetector
    from ..demos.pose.person import PersonFinder
    from ..demos.pose.pipeline import PoseEstimator, run
    pose = _load(args, model, source, PoseEstimator, args.library)
    detector = None
    if args.person != "full":
        library = args.person_library
        detector = _load(args, Path(library).parent if library else PERSON_MODEL, source,
                         PersonDetector, library)
    finder = PersonFinder(args.person, detector)

    def status(result) -> str:  # noqa: ANN001 - PoseResult
        return f"{int((result.confidence >= args.min_confidence).sum())}/17 joints"

    title = "pose estimation" + ("" if args.model == "pose" else f", {Path(args.model).name}")
    results = _serve(args, source, title,
                     lambda display, report: run(pose, finder, source, display,
                                                 frames=args.frames,
                                                 max_fps=args.fps or source.fps,
                                                 smooth=args.smooth,
                                                 threshold=args.min_confidence,
                                                 on_result=report), status)
    _summary(results, "")
    return 0


def _load(args: argparse.Namespace, model, source, runtime, library):  # noqa: ANN001, ANN202
    """``runtime(project, library=...)`` of the model's built C project (exported and built
    here once, unless ``library`` names a prebuilt one); the source is closed on failure."""
    from ..demos.classification.engine import host_project
    try:
        loaded = runtime(model if library else host_project(model), library=library)
    except BaseException:
        source.close()
        raise
    step(PROG, f"C model {loaded.model.library} in Python {platform.python_version()} "
               f"on {platform.machine()}")
    return loaded


def _open_source(args: argparse.Namespace, synthetic):  # noqa: ANN001, ANN202
    from ..demos import sources
    if args.stop_on_stdin_eof:      # started by --host: end with the SSH session
        _stop_on_stdin_eof()
    return sources.open_source(args.source, synthetic)   # fail fast, before any build


def _serve(args: argparse.Namespace, source, title: str, run, status) -> list:  # noqa: ANN001
    """Open the display, ``run(display, report)`` with a status line every 2 s, close all."""
    from ..demos.display import open_display
    try:
        display = open_display(args.display, bind=args.bind, title=title,
                               source=source.description, fps=args.fps or source.fps)
    except BaseException:
        source.close()
        raise
    if hasattr(display, "url"):
        step(PROG, f"web view at {display.url}  (Ctrl-C to stop)")
    last = [0.0]

    def report(result, info: dict) -> None:  # noqa: ANN001 - a demo's frame result
        now = time.monotonic()
        if args.quiet or now - last[0] < 2:
            return
        last[0] = now
        print(f"frame {result.index}: {status(result)}  {info['fps']:.1f} fps  "
              f"C {info['inference_ms']:.2f} ms  frame {info['frame_ms']:.1f} ms", flush=True)

    try:
        return run(display, report)
    finally:
        source.close()
        display.close()


def _stop_on_stdin_eof() -> None:
    import _thread
    import os
    import threading

    def watch() -> None:
        # the file descriptor, not sys.stdin: a thread blocked in a buffered read holds
        # its lock, and the interpreter then aborts at exit ("Fatal Python error")
        while os.read(0, 4096):
            pass
        _thread.interrupt_main()

    threading.Thread(target=watch, daemon=True).start()


def _summary(results: list, extra: str) -> None:
    if not results:
        print("no frames")
        return
    import numpy as np
    inf = np.median([r.inference_s for r in results]) * 1e3
    frame = np.median([r.frame_s for r in results]) * 1e3
    print(f"{len(results)} frames: median C inference {inf:.2f} ms, whole frame "
          f"{frame:.1f} ms{extra}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    args.model = getattr(args, "model", args.default_model)
    if args.host and args.library:
        parser.error("--library is for running on the device itself; with --host the library "
                     "is cross-built and deployed for you")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main(PROG, lambda: _pose(args) if args.demo == "pose" else _classify(args))


if __name__ == "__main__":
    sys.exit(main())
