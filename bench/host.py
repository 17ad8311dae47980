"""Host time per inference: bnnkit's generated C against PyTorch, in one run.

Both sides run 1 thread on the same machine in the same process tree, in
alternating rounds (C, PyTorch, C, PyTorch, ...), so that load from other
programs hits both alike. bnnkit's figure is the generated program's own
``--bench N --json`` (CLOCK_MONOTONIC around each ``<name>_run_node``); each
PyTorch inference is timed with ``time.perf_counter`` in
``torch.inference_mode`` after warm-up. Medians and p90 are taken over the
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
    torch_ms: dict[str, dict[str, float]] = field(default_factory=dict)

    def ratio(self, variant: str) -> float:
        return self.torch_ms[variant]["median"] / self.c_median_ms


def run_c_bench(program: Path, runs: int, warmup: int, timeout: float = 600) -> dict[str, Any]:
    """One ``--bench runs --json`` round of a generated program."""
    try:
        proc = subprocess.run([str(program), "--bench", str(runs), "--warmup", str(warmup),
                               "--json"], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"{program} --bench {runs} took over {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise ToolchainError(f"{program} --bench failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def time_torch(fn: Callable[[], object], runs: int, warmup: int) -> list[float]:
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


def measure(program: Path, torch_fns: dict[str, Callable[[], object]], runs: int,
            rounds: int = 5, warmup: int = 5,
            progress: Callable[[], None] | None = None) -> HostResult:
    """Alternate C and PyTorch rounds of ``runs`` inferences each."""
    per_round = max(1, runs // rounds)
    c_rounds: list[dict[str, Any]] = []
    torch_samples: dict[str, list[float]] = {k: [] for k in torch_fns}
    for _ in range(rounds):
        c_rounds.append(run_c_bench(program, per_round, warmup))
        for key, fn in torch_fns.items():
            torch_samples[key] += time_torch(fn, per_round, warmup)
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
    for key, samples in torch_samples.items():
        result.torch_ms[key] = {"median": statistics.median(samples) * 1e3,
                                "p90": percentile(samples, 0.9) * 1e3,
                                "min": min(samples) * 1e3, "samples": len(samples)}
    return result
