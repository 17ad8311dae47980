"""Frame sources: where the demo's pictures come from.

Every source yields BGR uint8 frames (H, W, 3) and is opened from one
string, as on the command line:

  auto              picamera2 if a Pi camera is there, else the first V4L2 camera
  picamera2         a Raspberry Pi camera module (python3-picamera2 on Pi OS)
  v4l2:/dev/videoN  a USB webcam through OpenCV's V4L2 backend
  file:PATH         a video, an image, or a folder of images (played in a loop)
  synthetic         test-set images drawn onto a noisy canvas (no camera needed)

Imports numpy and cv2 only (picamera2 when asked for): this runs on the Pi.
A source that cannot be opened raises SourceError saying what to do.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..errors import BnnkitError

IMAGE_FPS = 2.0        # an image or a folder of them: one picture every half second
SYNTHETIC_FPS = 15.0   # test images (each held --hold frames), at a camera's rate
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp"}
SPECS = "auto, picamera2, v4l2:/dev/videoN, file:PATH or synthetic"


class SourceError(BnnkitError):
    """A camera or file cannot be opened or read."""

    exit_code = 8


class FrameSource:
    """Base: ``read()`` returns the next BGR frame, or None when the source is done."""

    description = "frames"
    truth: int | None = None      # label of the current frame, when the source knows it
    fps: float | None = None      # the rate it plays at (None: a camera, which paces itself)

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __iter__(self) -> Iterator[np.ndarray]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bgr(img: np.ndarray) -> np.ndarray:
    import cv2
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


class Picamera2Source(FrameSource):
    def __init__(self, size: tuple[int, int] = (640, 480)) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError:
            raise SourceError("picamera2 is not installed: on Raspberry Pi OS `sudo apt install "
                              "python3-picamera2` (use the system python3, or a venv made with "
                              "--system-site-packages); USB cameras: --source v4l2:/dev/video0"
                              ) from None
        try:
            self.cam = Picamera2()
            config = self.cam.create_video_configuration(main={"size": size,
                                                               "format": "RGB888"})
            self.cam.configure(config)
            self.cam.start()
        except (RuntimeError, IndexError) as e:
            raise SourceError(f"no Pi camera module found ({e}): check the ribbon cable and "
                              f"`rpicam-hello --list-cameras`, or use --source v4l2:/dev/videoN "
                              f"or file:PATH") from None
        self.description = f"picamera2 {size[0]}x{size[1]}"

    def read(self) -> np.ndarray | None:
        return self.cam.capture_array("main")[:, :, :3]   # RGB888 is B, G, R in memory

    def close(self) -> None:
        self.cam.stop()


class V4L2Source(FrameSource):
    def __init__(self, device: str, size: tuple[int, int] = (640, 480)) -> None:
        import cv2
        if not Path(device).exists():
            found = " ".join(sorted(glob.glob("/dev/video*"))) or "none"
            raise SourceError(f"camera {device} not found (video devices here: {found}): plug "
                              f"in a USB camera and check `v4l2-ctl --list-devices`, or use "
                              f"--source file:PATH or --source synthetic")
        self.cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
        if not self.cap.isOpened():
            raise SourceError(f"cannot open camera {device}: it is busy or not a capture device "
                              f"(is another program using it? `v4l2-ctl --list-devices`)")
        self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        self.device = device
        self.description = f"V4L2 {device}"

    def read(self) -> np.ndarray | None:
        ok, frame = self.cap.read()
        if not ok:
            raise SourceError(f"camera {self.device} stopped delivering frames (unplugged?)")
        return frame

    def close(self) -> None:
        self.cap.release()


class FileSource(FrameSource):
    """A video, an image or a folder of images; ``loop`` restarts at the end.

    ``fps`` is the video's own rate (``IMAGE_FPS`` for images);
    ``description`` replaces the path in what the demo shows.
    """

    def __init__(self, path: str | Path, loop: bool = True,
                 description: str | None = None) -> None:
        import cv2
        self.path, self.loop = Path(path), loop
        self.images: list[Path] = []
        self.cap = None
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such file or folder (give a video, an image or "
                              f"a folder of images after file:)")
        if self.path.is_dir():
            self.images = sorted(p for p in self.path.iterdir()
                                 if p.suffix.lower() in IMAGE_EXTS)
            if not self.images:
                raise SourceError(f"{self.path}: folder holds no images "
                                  f"({', '.join(sorted(IMAGE_EXTS))})")
        elif self.path.suffix.lower() in IMAGE_EXTS:
            self.images = [self.path]
        else:
            # FFmpeg's own complaints ("moov atom not found") would precede our one line.
            os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
            self.cap = cv2.VideoCapture(str(self.path))
            ok = self.cap.isOpened() and self.cap.grab()
            if not ok:
                raise SourceError(f"{self.path}: cannot read it as a video or an image (damaged, "
                                  f"or a format OpenCV cannot decode; try an .mp4/.avi or "
                                  f"a folder of .png)")
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            rate = self.cap.get(cv2.CAP_PROP_FPS)
            self.fps = rate if 1 <= rate <= 240 else 25.0     # 0 or nonsense: unknown
        if self.images:
            self.fps = IMAGE_FPS
        self.index = 0
        self.description = description or f"file {path}"
        if self.images:   # fail now, not at the first frame
            self._load(self.images[0])

    def _load(self, path: Path) -> np.ndarray:
        import cv2
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise SourceError(f"{path}: cannot read it as an image (damaged or not an image)")
        return img

    def read(self) -> np.ndarray | None:
        if self.images:
            if self.index >= len(self.images):
                if not self.loop:
                    return None
                self.index = 0
            self.index += 1
            return self._load(self.images[self.index - 1])
        assert self.cap is not None
        ok, frame = self.cap.read()
        if not ok and self.loop:
            import cv2
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        return frame if ok else None

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()


class SyntheticSource(FrameSource):
    """Test-set images, one every ``hold`` frames, drawn onto a noisy canvas.

    ``images`` are (N, h, w) uint8 as the model sees them (white on black);
    ``paper=True`` draws them dark on light (like ink on paper), so the
    demo's inversion is exercised. The image fills ``fill`` of the short side
    at the centre, which is what the default centre crop takes.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray | None = None, *,
                 size: tuple[int, int] = (320, 240), hold: int = 1, paper: bool = False,
                 fill: float = 0.8, noise: float = 6.0, seed: int = 0,
                 loop: bool = True, fps: float = SYNTHETIC_FPS) -> None:
        self.images, self.labels = images, labels
        self.size, self.hold, self.paper, self.fill = size, hold, paper, fill
        self.noise, self.loop, self.fps = noise, loop, fps
        self.rng = np.random.default_rng(seed)
        self.frame_no = 0
        self.description = f"synthetic ({len(images)} test images)"

    def render(self, k: int) -> np.ndarray:
        import cv2
        w, h = self.size
        side = int(round(min(w, h) * self.fill))
        img = cv2.resize(self.images[k], (side, side), interpolation=cv2.INTER_LINEAR)
        canvas = np.zeros((h, w), np.float32)
        y0, x0 = (h - side) // 2, (w - side) // 2
        canvas[y0:y0 + side, x0:x0 + side] = img
        if self.paper:
            canvas = 230 - canvas * (200 / 255)
        canvas += self.rng.normal(0, self.noise, canvas.shape)
        return _bgr(np.clip(canvas, 0, 255).astype(np.uint8))

    def read(self) -> np.ndarray | None:
        k = self.frame_no // self.hold
        if k >= len(self.images):
            if not self.loop:
                return None
            k %= len(self.images)
        self.frame_no += 1
        self.truth = int(self.labels[k]) if self.labels is not None else None
        return self.render(k)


def open_source(spec: str, synthetic: Callable[[], FrameSource] | None = None) -> FrameSource:
    """Open a source from its command-line spelling (see the module doc)."""
    kind, _, arg = spec.partition(":")
    if kind == "file" and arg:
        return FileSource(arg)
    if kind == "v4l2":
        return V4L2Source(arg or "/dev/video0")
    if kind == "picamera2" and not arg:
        return Picamera2Source()
    if kind == "synthetic" and not arg:
        if synthetic is None:
            raise SourceError("--source synthetic needs a model with a shipped test set "
                              "(fashion or digits)")
        return synthetic()
    if kind == "auto" and not arg:
        return _auto()
    raise SourceError(f"--source {spec!r}: choose one of {SPECS}")


def _auto() -> FrameSource:
    try:
        import picamera2  # type: ignore[import-not-found]  # noqa: F401
        return Picamera2Source()
    except (ImportError, SourceError):
        pass
    devices = sorted(glob.glob("/dev/video*"))
    if not devices:
        raise SourceError("no camera found (no Pi camera module, no /dev/video*): connect one, "
                          "or use --source file:PATH or --source synthetic")
    return V4L2Source(devices[0])
