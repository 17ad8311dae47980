"""Host time per inference: bnnkit's generated C against its peers (PyTorch,
onnxruntime), in one run, and what the host CPU is.

Every side runs 1 thread on the same machine in the same process tree, in
alternating rounds (C, peer 1, peer 2, ..., C, peer 1, ...), so that load
from other programs hits all alike. bnnkit's figure is the generated
program's own ``--bench N --json`` (CLOCK_MONOTONIC around each
``<name>_run_node``); each peer inference is timed with
``time.perf_counter`` after warm-up. Medians and p90 are taken over the
samples of all rounds (for C: the median of the per-round medians, since
the program reports per-round figures).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ToolchainError


@dataclass
class HostResult:
    c_median_ms: float
    c_p90_ms: float
    c_layers_ms: list[dict[str, Any]]
    peers_ms: dict[str, dict[str, float]] = field(default_factory=dict)

    def ratio(self, peer: str) -> float:
        return self.peers_ms[peer]["median"] / self.c_median_ms


def run_c_bench(program: Path, runs: int, warmup: int, timeout: float = 600,
                threads: int = 1) -> dict[str, Any]:
    """One ``--bench runs --json [--threads T]`` round of a generated program."""
    extra = ["--threads", str(threads)] if threads != 1 else []
    try:
        proc = subprocess.run([str(program), "--bench", str(runs), "--warmup", str(warmup),
                               "--json", *extra], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"{program} --bench {runs} took over {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise ToolchainError(f"{program} --bench failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def time_calls(fn: Callable[[], object], runs: int, warmup: int) -> list[float]:
    """Seconds of each of ``runs`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return samples


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile, as the generated program computes it."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), int(p * len(ordered) + 0.999999)))
    return ordered[rank - 1]


def measure(program: Path, peer_fns: dict[str, Callable[[], object]], runs: int,
            rounds: int = 5, warmup: int = 5,
            progress: Callable[[], None] | None = None) -> HostResult:
    """Alternate rounds of the C program and each peer, ``runs`` inferences each."""
    per_round = max(1, runs // rounds)
    c_rounds: list[dict[str, Any]] = []
    peer_samples: dict[str, list[float]] = {k: [] for k in peer_fns}
    for _ in range(rounds):
        c_rounds.append(run_c_bench(program, per_round, warmup))
        for key, fn in peer_fns.items():
            peer_samples[key] += time_calls(fn, per_round, warmup)
        if progress:
            progress()
    c_med = statistics.median(r["total"]["median"] for r in c_rounds) / 1e3
    c_p90 = statistics.median(r["total"]["p90"] for r in c_rounds) / 1e3
    layers = []
    for i, layer in enumerate(c_rounds[0]["layers"]):
        layers.append({
            "index": i, "name": layer["name"], "op": layer["op"], "macs": layer["macs"],
            "median_ms": statistics.median(r["layers"][i]["median"] for r in c_rounds) / 1e3,
            "p90_ms": statistics.median(r["layers"][i]["p90"] for r in c_rounds) / 1e3,
        })
    result = HostResult(c_med, c_p90, layers)
    for key, samples in peer_samples.items():
        result.peers_ms[key] = {"median": statistics.median(samples) * 1e3,
                                "p90": percentile(samples, 0.9) * 1e3,
                                "min": min(samples) * 1e3, "samples": len(samples)}
    return result


def cpu_flags() -> set[str]:
    """The host CPU's feature flags as Linux names them (/proc/cpuinfo); empty
    where the kernel does not list them."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


#: The x86 binary-conv kernels of cruntime/bconv_x86.c, best first, with the
#: compiler macros that select each (bnn_internal.h).
X86_POPCOUNT_PATHS = (("avx512-vpopcntdq", ("__AVX512F__", "__AVX512VPOPCNTDQ__")),
                      ("avx2", ("__AVX2__",)), ("popcnt", ("__POPCNT__",)))


def x86_popcount_path(compiler: str, cflags: list[str]) -> str | None:
    """Which binary-conv path a host build with ``cflags`` compiles (the host
    preset's -march=native picks it by the build machine's CPU); None off x86."""
    proc = subprocess.run([compiler, *cflags, "-dM", "-E", "-x", "c", "/dev/null"],
                          capture_output=True, text=True)
    macros = {line.split()[1] for line in proc.stdout.splitlines() if line.startswith("#define")}
    if "__x86_64__" not in macros:
        return None
    return next((name for name, needed in X86_POPCOUNT_PATHS if set(needed) <= macros),
                "portable")


def measure_threads(program: Path, counts: tuple[int, ...], runs: int, rounds: int = 5,
                    warmup: int = 5, progress: Callable[[], None] | None = None
                    ) -> dict[str, dict[str, float]]:
    """Whole-inference ms of the C program on each thread count, in alternating
    rounds (1 thread, 2 threads, 1 thread, ...): median of per-round medians."""
    per_round = max(1, runs // rounds)
    totals: dict[int, list[dict[str, float]]] = {t: [] for t in counts}
    for _ in range(rounds):
        for t in counts:
            totals[t].append(run_c_bench(program, per_round, warmup, threads=t)["total"])
        if progress:
            progress()
    return {str(t): {"median": statistics.median(r["median"] for r in rs) / 1e3,
                     "p90": statistics.median(r["p90"] for r in rs) / 1e3}
            for t, rs in totals.items()}
