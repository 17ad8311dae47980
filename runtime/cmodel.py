"""``CModel``: a generated C project loaded in Python through cffi (ABI mode).

Compiles the project's library sources into a host shared library (cached in
``<project>/build/cffi/``, rebuilt when a source or flag changes), or loads a
prebuilt one (``library=``, e.g. cross-compiled for a Pi with ``make lib``).
The cffi declarations are the block between ``BEGIN CDEF`` and ``END CDEF``
in the generated ``<name>.h``: one source of truth for C and Python.

Numpy and cffi only, no torch: this runs on the device too.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BnnkitError, ToolchainError
from ..ir.graph import Graph, Quant, Tensor
from .compile import compile_once
from .layout import NUMPY_DTYPES, from_c_bytes, to_c_bytes

ALIGN = 16
CDEF_RE = re.compile(r"/\* BEGIN CDEF[^\n]*\n(.*?)/\* END CDEF \*/", re.S)


@dataclass(frozen=True)
class Mismatch:
    """The first node whose output differs from the golden model."""

    index: int               # node index in the schedule
    func: str                # C function, e.g. node_03_bconv
    node: str                # IR node name
    op: str
    source: str              # layer of the user's model
    tensor: str
    position: tuple[int, ...]  # (n, h, w, c) of the first differing value
    got: int
    expected: int
    differing: int           # number of differing values in this tensor
    total: int

    def __str__(self) -> str:
        src = f" (layer {self.source})" if self.source else ""
        return (f"node {self.index} {self.func} [{self.op}, IR node {self.node}]{src}: output "
                f"{self.tensor} differs at (n, h, w, c) = {self.position}: C gives "
                f"{self.got}, golden {self.expected}; {self.differing} of {self.total} "
                f"values differ")


def _aligned(nbytes: int) -> np.ndarray:
    raw = np.zeros(max(nbytes, 1) + ALIGN, dtype=np.uint8)
    start = (-raw.ctypes.data) % ALIGN
    return raw[start:start + max(nbytes, 1)]


def host_cflags() -> list[str]:
    """The flags of the generated Makefile's host preset, as a shared library:
    on x86_64 -march=native turns on the popcount and AVX2 paths."""
    flags = ["-std=c99", "-O3", "-shared", "-fPIC", "-pthread"]
    if platform.machine() == "x86_64":
        flags.append("-march=native")
    return flags


def compile_library(project_dir: str | Path, *, cc: str | None = None,
                    cflags: Sequence[str] | None = None,
                    cache_dir: str | Path | None = None) -> Path:
    """Host shared library of the project's model + runtime sources (cached by content)."""
    project = Path(project_dir)
    plan = _read_plan(project)
    name = plan["name"]
    compiler = cc or os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        raise ToolchainError(f"C compiler {compiler!r} not found; install one with "
                             f"`apt-get install gcc` or set CC")
    flags = list(cflags) if cflags is not None else host_cflags()
    sources = [project / f"{name}.c", project / f"{name}_weights.c",
               *sorted((project / "runtime").glob("*.c"))]
    headers = sorted([*project.glob("*.h"), *(project / "runtime").glob("*.h")])
    digest = hashlib.sha256(" ".join([compiler, *flags]).encode())
    for path in [*sources, *headers]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    cache = Path(cache_dir) if cache_dir else project / "build" / "cffi"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=cache, delete=True)
        probe.close()
    except OSError:
        cache = Path(tempfile.gettempdir()) / "bnnkit-cmodel"
        cache.mkdir(parents=True, exist_ok=True)
    return compile_once([compiler, *flags, *map(str, sources)],
                        cache / f"lib{name}-{digest.hexdigest()[:16]}.so",
                        f"{project} as a host library")


def _read_plan(project: Path) -> dict:
    try:
        plan = json.loads((project / "plan.json").read_text())
    except (OSError, ValueError) as e:
        raise BnnkitError(f"{project}: cannot read plan.json ({e}); is this a project "
                          f"written by bnnkit?") from None
    if plan.get("format") != "bnnkit-plan":
        raise BnnkitError(f"{project}/plan.json is not a bnnkit plan")
    return plan


def _tensor(name: str, info: dict) -> Tensor:
    q = info.get("quant")
    return Tensor(name, tuple(info["shape"]), info["dtype"],
                  None if q is None else Quant(q["scale"], q["zero_point"]))


class CModel:
    """Run a generated C model from Python; compare it with the golden model.

    ``threads`` > 1 runs ``run_int`` on a thread pool of the library (created
    here, destroyed with the object); the output is the same for every count."""

    def __init__(self, project_dir: str | Path, *, library: str | Path | None = None,
                 cc: str | None = None, cflags: Sequence[str] | None = None,
                 threads: int = 1) -> None:
        import cffi

        self.project = Path(project_dir)
        self.plan = _read_plan(self.project)
        self.name: str = self.plan["name"]
        header = (self.project / f"{self.name}.h").read_text()
        match = CDEF_RE.search(header)
        if match is None:
            raise BnnkitError(f"{self.project}/{self.name}.h has no CDEF block; regenerate")
        self.library = Path(library) if library else compile_library(
            self.project, cc=cc, cflags=cflags)
        self.ffi = cffi.FFI()
        self.ffi.cdef(match.group(1))
        self.lib = self.ffi.dlopen(str(self.library.resolve()))
        self.tensors = {k: _tensor(k, v) for k, v in self.plan["tensors"].items()}
        self.input = self.tensors[self.plan["input"]]
        self.output = self.tensors[self.plan["output"]]
        self.nodes: list[dict] = self.plan["nodes"]
        self.arena = _aligned(self.plan["arena_bytes"])
        self._in = _aligned(self.input.nbytes())
        self._out = _aligned(self.output.nbytes())
        self._graph: Graph | None = None
        self._fn = {verb: getattr(self.lib, f"{self.name}_{verb}")
                    for verb in ("run", "run_node", "node_name")}
        self.threads = threads
        self._pool = self.ffi.NULL
        if threads != 1:
            self._pool = self._create_pool(threads)

    def _create_pool(self, threads: int):  # noqa: ANN202 (cffi cdata)
        limit = getattr(self.lib, f"{self.name.upper()}_MAX_THREADS", None)
        if limit is None:
            raise BnnkitError(f"{self.project} was generated without thread support; "
                              f"regenerate it with this bnnkit to use threads={threads}")
        if not 1 <= threads <= limit:
            raise BnnkitError(f"threads={threads}: the model runs on 1..{limit} threads")
        pool = getattr(self.lib, f"{self.name}_pool_create")(threads)
        if pool == self.ffi.NULL:
            raise BnnkitError(f"cannot start {threads} threads: the library was built "
                              f"without threads (BNN_NO_THREADS) or the system refused")
        self._fn["run_pool"] = getattr(self.lib, f"{self.name}_run_pool")
        return self.ffi.gc(pool, getattr(self.lib, f"{self.name}_pool_destroy"))

    # -- plumbing ----------------------------------------------------------------------

    @property
    def graph(self) -> Graph:
        """The IR the project was generated from (its ``ir/`` directory)."""
        if self._graph is None:
            from ..ir.serialize import load
            self._graph = load(self.project / "ir")
        return self._graph

    def node_names(self) -> list[str]:
        return [self.ffi.string(self._fn["node_name"](i)).decode()
                for i in range(len(self.nodes))]

    def _ptr(self, arr: np.ndarray):  # noqa: ANN202 (cffi cdata)
        return self.ffi.cast("void *", arr.ctypes.data)

    def _check(self, err: int, what: str) -> None:
        if err != 0:
            raise BnnkitError(f"{self.name}_{what} returned error {err}")

    def _load_input(self, sample: np.ndarray) -> None:
        self._in[:] = np.frombuffer(to_c_bytes(sample, self.input), np.uint8)

    def _batch(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q)
        want = tuple(self.input.shape[1:])
        if q.ndim == 3:
            q = q[None]
        if q.ndim != 4 or q.shape[1:] != want:
            from ..errors import InputShapeError
            raise InputShapeError(f"input has shape {q.shape}, the model takes "
                                  f"(N, {', '.join(map(str, want))}) NHWC {self.input.dtype}")
        return q

    def read_tensor(self, name: str) -> np.ndarray:
        """Current value of a tensor (H, W, C) from the arena or the caller's buffers."""
        info = self.plan["tensors"][name]
        t = self.tensors[name]
        if info["location"] == "input":
            raw = self._in
        elif info["location"] == "output":
            raw = self._out
        elif "pitch" in info:  # int8 channels of a wider buffer (a concat in place)
            _, h, w, c = t.shape
            rows = np.lib.stride_tricks.as_strided(
                self.arena[info["offset"]:], (h * w, c), (info["pitch"], 1))
            raw = rows.astype(np.uint8).tobytes()
        else:
            raw = self.arena[info["offset"]:info["offset"] + t.nbytes()]
        values = from_c_bytes(raw, t)
        for seg in info.get("view", []):  # the stored bytes' values (codegen/slices.py)
            first, end = seg["channels"]
            stored = values[..., first:end].astype(np.int64)
            values[..., first:end] = np.asarray(seg["values"])[stored + 128]
        return values

    # -- running -----------------------------------------------------------------------

    def run_int(self, q: np.ndarray) -> np.ndarray:
        """Raw integers in (N, H, W, C), raw integers out; bits as 0/1 like the golden model."""
        outs = []
        for sample in self._batch(q):
            self._load_input(sample)
            buffers = (self._ptr(self._in), self._ptr(self._out), self._ptr(self.arena))
            if self._pool == self.ffi.NULL:
                self._check(self._fn["run"](*buffers), "run")
            else:
                self._check(self._fn["run_pool"](self._pool, *buffers), "run_pool")
            outs.append(from_c_bytes(self._out, self.output))
        return np.stack(outs)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """What the PyTorch model takes (float, NCHW) to what it returns (dequantized)."""
        from ..golden.interpreter import dequantize_output, quantize_input
        q = quantize_input(self.graph, np.asarray(x, dtype=np.float64))
        return dequantize_output(self.graph, self.run_int(q))

    def trace(self, q: np.ndarray,
              hook: Callable[[int, np.ndarray], None] | None = None) -> dict[str, np.ndarray]:
        """Every tensor (input and each node's output) by name, like golden run_int(trace=True).

        ``hook(index, arena)`` runs after node ``index`` and before its output
        is read (for fault injection in tests).
        """
        per_sample: list[dict[str, np.ndarray]] = []
        for sample in self._batch(q):
            self._load_input(sample)
            values = {self.input.name: sample.astype(NUMPY_DTYPES[self.input.dtype])}
            for node in self.nodes:
                err = self._fn["run_node"](node["index"], self._ptr(self._in),
                                           self._ptr(self._out), self._ptr(self.arena))
                self._check(err, "run_node")
                if hook is not None:
                    hook(node["index"], self.arena)
                values[node["output"]] = self.read_tensor(node["output"])
            per_sample.append(values)
        return {k: np.stack([v[k] for v in per_sample]) for k in per_sample[0]}

    def first_mismatch(self, q: np.ndarray, golden_trace: dict[str, np.ndarray] | None = None,
                       hook: Callable[[int, np.ndarray], None] | None = None
                       ) -> Mismatch | None:
        """The first node (in schedule order) whose C output differs from golden, or None."""
        if golden_trace is None:
            from ..golden.interpreter import run_int
            golden_trace = run_int(self.graph, self._batch(q), trace=True)  # type: ignore
        assert isinstance(golden_trace, dict)
        got = self.trace(q, hook=hook)
        for node in self.nodes:
            name = node["output"]
            want = np.asarray(golden_trace[name]).astype(np.int64)
            have = got[name].astype(np.int64)
            diff = have != want
            if diff.any():
                pos = tuple(int(i) for i in np.argwhere(diff)[0])
                return Mismatch(node["index"], node["func"], node["name"], node["op"],
                                node["source"], name, pos, int(have[pos]), int(want[pos]),
                                int(diff.sum()), int(diff.size))
        return None
