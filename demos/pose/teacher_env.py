"""The BlazePose teacher: its own virtualenv, and a worker that runs inside it.

mediapipe 0.10.21 pins numpy<2 and its own protobuf, so it never enters
bnnkit's python. ``ensure_teacher_env`` builds (or reuses) a virtualenv for it,
and ``Teacher`` runs this very file there as a worker:

    <teacher-python> teacher_env.py --worker IN.npz OUT.npz

IN.npz holds ``images`` (N, H, W, 3) RGB uint8; OUT.npz gets ``landmarks``
(N, 33, 4) float32 = (x, y, z, visibility) with x, y normalised to the image
(NaN rows where no person was found) and ``version``, mediapipe's version.
The worker part imports only the standard library, numpy and (lazily)
mediapipe: nothing from bnnkit, which the teacher env does not have.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DEFAULT_ENV = Path.home() / ".cache" / "bnnkit" / "pose-teacher"
MEDIAPIPE_VERSION = "0.10.21"
# mediapipe is installed with --no-deps: its full requirement list drags in
# jax, opencv-contrib and sounddevice that the pose solution never uses.
TEACHER_REQUIREMENTS = (
    "numpy<2",
    "protobuf>=4.25.3,<5",
    "absl-py",
    "attrs",
    "flatbuffers",
    "opencv-python-headless==4.10.0.84",
    "matplotlib<3.10",
)
# The wheel ships only the "full" landmark model; lite and heavy come from npm.
NPM_MODELS = "@mediapipe/pose@0.5.1675469404"
MODEL_COMPLEXITY = 1
TEACHER_NAME = (
    f"mediapipe {MEDIAPIPE_VERSION} BlazePose GHUM full (model_complexity={MODEL_COMPLEXITY}, "
    "static_image_mode=True)"
)
STAMP = "bnnkit-teacher.json"


class TeacherError(RuntimeError):
    """The teacher environment cannot be built or the worker failed."""


def _python(env: Path) -> Path:
    return env / "bin" / "python"


def _run(cmd: list[str], **kw: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def ensure_teacher_env(env: Path = DEFAULT_ENV) -> Path:
    """Create the teacher virtualenv at ``env`` unless a working one is there; return its python."""
    py = _python(env)
    if (env / STAMP).exists() and py.exists():
        return py
    if shutil.which("npm") is None:
        raise TeacherError("npm is needed for the BlazePose landmark models (apt-get install npm)")
    try:
        # The wheel is cp39..cp312: build the venv from the interpreter running this.
        _run([sys.executable, "-m", "venv", "--clear", str(env)])
        pip = [str(py), "-m", "pip", "install", "--quiet"]
        _run([*pip, "--no-deps", f"mediapipe=={MEDIAPIPE_VERSION}"])
        _run([*pip, *TEACHER_REQUIREMENTS])
        site = subprocess.run(
            [str(py), "-c", "import mediapipe, os; print(os.path.dirname(mediapipe.__file__))"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        dest = Path(site) / "modules" / "pose_landmark"
        with tempfile.TemporaryDirectory() as tmp:
            _run(["npm", "pack", "--silent", NPM_MODELS], cwd=tmp, stdout=subprocess.DEVNULL)
            tgz = next(Path(tmp).glob("*.tgz"))
            _run(["tar", "-xzf", str(tgz), "-C", tmp])
            models = sorted((Path(tmp) / "package").glob("pose_landmark_*.tflite"))
            if not models:
                raise TeacherError(f"{NPM_MODELS} holds no pose_landmark_*.tflite")
            for m in models:
                shutil.copy2(m, dest / m.name)
    except (subprocess.CalledProcessError, OSError) as e:
        raise TeacherError(f"building the teacher env at {env} failed: {e}") from e
    stamp = {
        "mediapipe": MEDIAPIPE_VERSION,
        "requirements": list(TEACHER_REQUIREMENTS),
        "models": NPM_MODELS,
    }
    (env / STAMP).write_text(json.dumps(stamp, indent=1) + "\n")
    return py


class Teacher:
    """Runs BlazePose on batches of RGB images through the worker in the teacher env."""

    def __init__(self, env: Path = DEFAULT_ENV, threads: int = 1) -> None:
        self.python = ensure_teacher_env(env)
        self.threads = threads
        self.version = ""

    def __call__(self, images: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """Landmarks (N, 33, 4) = normalised x, y, z and visibility; NaN where no one was found."""
        if len(images) == 0:
            return np.zeros((0, 33, 4), np.float32)
        with tempfile.TemporaryDirectory(prefix="bnnkit-pose-") as tmp:
            src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
            # One image size per call keeps the exchange a single array.
            np.savez(src, images=np.stack(images))
            cmd = [str(self.python), __file__, "--worker", str(src), str(dst),
                   "--threads", str(self.threads)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0 or not dst.exists():
                raise TeacherError(
                    f"teacher worker failed ({res.returncode}):\n{res.stderr[-2000:]}"
                )
            with np.load(dst) as out:
                self.version = str(out["version"])
                return out["landmarks"].astype(np.float32)


def _worker(src: str, dst: str, threads: int) -> None:
    """Inside the teacher env: BlazePose on every image of ``src``, landmarks into ``dst``."""
    if threads > 0 and hasattr(os, "sched_setaffinity"):
        # TFLite/XNNPACK sizes its thread pool from the CPUs it may use;
        # pinning keeps the teacher off the cores a training job is using.
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(cpus[:threads]))
    os.environ.setdefault("GLOG_minloglevel", "2")
    import mediapipe as mp

    images = np.load(src)["images"]
    out = np.full((len(images), 33, 4), np.nan, np.float32)
    with mp.solutions.pose.Pose(
        static_image_mode=True, model_complexity=MODEL_COMPLEXITY,
        enable_segmentation=False, min_detection_confidence=0.5,
    ) as pose:
        for i, img in enumerate(images):
            res = pose.process(np.ascontiguousarray(img))
            if res.pose_landmarks is not None:
                out[i] = [(p.x, p.y, p.z, p.visibility) for p in res.pose_landmarks.landmark]
    np.savez(dst, landmarks=out, version=np.str_(mp.__version__))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--worker":
        n_threads = int(sys.argv[5]) if len(sys.argv) >= 6 and sys.argv[4] == "--threads" else 1
        _worker(sys.argv[2], sys.argv[3], n_threads)
    else:
        sys.exit(f"usage: {sys.argv[0]} --worker IN.npz OUT.npz [--threads N]")
