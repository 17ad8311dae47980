"""Thread balance on ARM, counted per guest thread under qemu-user.

Under qemu-user every guest thread is a vCPU, and the plugin with
``vcpus=on`` counts each one's instructions. ``insns``'s driver, given a
thread count T, creates a pool of T threads once and runs the whole model K
times through ``<name>_run_pool``;
the per-vCPU difference between K2 and K1 runs, divided by K2 - K1, is what
each thread executes per inference (start-up, pool creation and exit
cancel). The busiest thread's count is the critical path; over the
single-thread count it is the share of the work the slowest thread carries
(ideal 1 / T). Waiting threads spin, yield, then sleep (bnn_pool.c): their
spins count too, so counts vary by a few spins between runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolchainError
from .insns import K1, K2, WHOLE, Driver, run_counted


@dataclass(frozen=True)
class Balance:
    """Instructions per inference of each thread of a T-thread run."""

    threads: int
    per_thread: tuple[int, ...]   # thread 0 is the caller

    @property
    def busiest(self) -> int:
        return max(self.per_thread)


def per_inference(a: dict[int, int], b: dict[int, int], threads: int) -> tuple[int, ...]:
    """Per-vCPU counts of K1 and K2 runs -> instructions per inference of each of
    the run's threads (vCPU 0 the main thread, then the workers)."""
    vcpus = sorted(b)
    if len(vcpus) < threads:
        raise ToolchainError(f"{threads} threads ran, the plugin counted {len(vcpus)} vCPUs")
    return tuple(round((b[v] - a.get(v, 0)) / (K2 - K1)) for v in vcpus[:threads])


def count_balance(driver: Driver, thread_counts: Sequence[int], plugin: Path,
                  progress: Callable[[str], None] | None = None) -> list[Balance]:
    """Per-thread instructions per inference for each thread count, with the per-node
    driver (``build_driver``'s default source: a thread-count argument runs it on a pool)."""
    out = []
    for threads in thread_counts:
        a, b = (run_counted(driver.target, plugin,
                            [str(driver.program), str(WHOLE), str(k), str(threads)],
                            per_vcpu=True, timeout=3600).per_vcpu for k in (K1, K2))
        out.append(Balance(threads, per_inference(a, b, threads)))
        if progress:
            progress(f"{driver.target} {threads} threads")
    return out


def ratios(balances: Sequence[Balance]) -> dict[int, float]:
    """Busiest thread / single-thread instructions, by thread count."""
    single = next((b.busiest for b in balances if b.threads == 1), None)
    if single is None:
        raise ValueError("the thread counts must include 1 (the reference)")
    return {b.threads: b.busiest / single for b in balances}
