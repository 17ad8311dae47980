"""``bnn-bench`` end to end: workload -> IR -> C -> host timing + ARM counts.

``run_benchmark`` returns the whole report as a JSON-ready dict: every figure
plus how it was measured (compilers, flags, qemu, machine, date).
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import ToolchainError
from . import breakdown, host, insns, mca, threads
from .workloads import LCE_PI4_MS, PI4_ASSUMED_IPC, PI4_HZ, REFERENCE_TOTALS, WORKLOADS

ARM_TARGETS = ("armv8", "armv7")
TARGET_LABEL = {"armv8": "aarch64", "armv7": "armv7"}
REPORT_FORMAT = "bnnkit-bench"
REPORT_VERSION = 1


@dataclass
class Options:
    workload: str = "cifar_bnn"
    model_path: Path | None = None
    arch: str | None = None
    input_shape: tuple[int, ...] | None = None
    trust_pickle: bool = False
    host_runs: int = 200
    rounds: int = 5
    host: bool = True
    targets: tuple[str, ...] = ARM_TARGETS
    plugin: Path | None = None
    cpu: str | None = None
    keep: Path | None = None
    threads: tuple[int, ...] = (1, 2, 4)  # counts of the threads section; () skips it


class Progress:
    """Steps of a run; the CLI shows them with tqdm, tests pass nothing."""

    def __init__(self, total: int, show: Callable[..., None] | None = None,
                 advance: Callable[[int], None] | None = None) -> None:
        self.total, self._show, self._advance = total, show, advance

    def set_total(self, total: int) -> None:
        self.total = total
        if self._show:
            self._show("", total=total)

    def step(self, message: str, n: int = 0) -> None:
        if self._show and message:
            self._show(message)
        if n and self._advance:
            self._advance(n)


def _load(options: Options):  # noqa: ANN202 - (graph, torch fns factory, name, note, Workload|None)
    import torch

    from ..codegen.emit import default_name
    from ..export.loader import load_model
    from ..export.pipeline import export

    if options.model_path is None:
        wl = WORKLOADS[options.workload]()
        graph = export(wl.model, torch.zeros(wl.input_shape), wl.calibration)
        return graph, wl.model, wl.input_shape, wl.name, wl.note, wl
    example = torch.zeros(options.input_shape) if options.input_shape else None
    mf = load_model(options.model_path, arch=options.arch, example_input=example,
                    trust_pickle=options.trust_pickle)
    graph = export(options.model_path, example, None, arch=options.arch,
                   trust_pickle=options.trust_pickle)
    module = mf.program.module()
    note = f"user model {options.model_path.name}"
    return graph, module, tuple(mf.input_shape), default_name(options.model_path.stem), note, None


def _tool_version(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.splitlines()[0].strip() if out else None


def _host_info() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {"machine": platform.machine(), "cpu": cpu,
                            "cpu_flags": sorted(host.cpu_flags()),
                            "cores": os.cpu_count(), "os": platform.platform()}
    try:
        info["load_average_at_start"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    return info


def _make_flags(project: Path, target: str, cpu: str | None) -> str:
    """The compile command the project's Makefile runs for ``target`` (make -n)."""
    from ..codegen.build import compiler_for
    args = ["make", "-n", "-B", "--no-print-directory", f"TARGET={target}",
            f"CC={compiler_for(target)}"] + ([f"CPU={cpu}"] if cpu else [])
    out = subprocess.run(args, cwd=project, capture_output=True, text=True).stdout
    return next((ln.strip() for ln in out.splitlines() if " -o " in ln), "")


def run_benchmark(options: Options, progress: Progress | None = None) -> dict[str, Any]:
    """Run the benchmark; the report dict (see ``report.write_json``)."""
    import torch

    from ..codegen import build, write_project
    from ..ir.stats import graph_stats
    from .reference import torch_callables

    progress = progress or Progress(0)
    started = datetime.datetime.now(datetime.UTC)
    progress.step("exporting the model to the IR")
    graph, module, input_shape, name, note, wl = _load(options)
    stats = graph_stats(graph)
    binary = [i for i, s in enumerate(stats) if breakdown.kind_of(s.op) == "binary conv"]
    per_layer = wl is None or wl.per_layer
    kinds = {breakdown.kind_of(n.op) for n in graph.nodes}
    progress.set_total((options.rounds * (2 if options.threads else 1) if options.host else 0)
                       + (len(kinds) + 1 + (len(binary) if per_layer else 0)
                          + len(options.threads)) * len(options.targets))
    layers = [{"index": i, "node": s.name, "op": s.op, "source": s.source,
               "shape": list(s.shape), "binary_macs": s.binary_macs, "int8_macs": s.int8_macs}
              for i, s in enumerate(stats)]
    if wl is not None and wl.layer_labels and len(wl.layer_labels) == len(binary):
        for k, i in enumerate(binary):
            layers[i]["label"] = wl.layer_labels[k]
            for engine, figures in (wl.references or {}).items():
                layers[i].setdefault("reference_insns", {})[engine] = figures[k]
    report: dict[str, Any] = {
        "format": REPORT_FORMAT, "version": REPORT_VERSION, "bnnkit": __version__,
        "workload": name, "note": note, "input_shape": list(input_shape),
        "date": started.isoformat(timespec="seconds"), "machine": _host_info(),
        "binary_macs": sum(s.binary_macs for s in stats),
        "binary_conv_macs": sum(stats[i].binary_macs for i in binary),
        "int8_macs": sum(s.int8_macs for s in stats),
        "layers": layers, "binary_layers": binary if per_layer else [],
    }
    report["floor_insns"] = breakdown.floor_instructions(report["binary_macs"],
                                                         report["int8_macs"])
    with tempfile.TemporaryDirectory(prefix="bnnbench-") as tmp:
        project = (options.keep or Path(tmp)) / f"{name}_bnn"
        progress.step(f"generating C in {project}")
        write_project(graph, project, target="host", name=name, cpu=options.cpu,
                      command_line="bnn-bench")
        if options.host:
            report["host"] = _host_part(options, project, name, module, input_shape,
                                        progress, build, torch_callables, torch,
                                        wl.calibration if wl is not None else None)
        if options.targets:
            report["arm"] = _arm_part(options, project, name, graph,
                                      binary if per_layer else [], progress)
            report["pi4_estimate"] = _pi4_estimate(report, name)
    report["finished"] = datetime.datetime.now(datetime.UTC).isoformat(
        timespec="seconds")
    return report


def _host_part(options: Options, project: Path, name: str, module: Any,
               input_shape: tuple[int, ...], progress: Progress, build: Callable,
               torch_callables: Callable, torch: Any,
               calibration: Any) -> dict[str, Any]:
    from . import onnx_peer
    from .reference import timing_input

    progress.step("building the host program")
    program = build(project, "host", cpu=None)
    check = subprocess.run([str(program), "--selftest"], capture_output=True, text=True)
    if check.returncode != 0:
        raise ToolchainError(f"the host build fails its golden selftest:\n{check.stdout}")
    plain = any(type(m).__name__ in ("BinaryConv2d", "BinaryLinear") for m in module.modules())
    fns = torch_callables(module, input_shape, plain=plain)
    progress.step("quantizing the onnxruntime INT8 peer")
    ort_fn, ort_info = onnx_peer.onnxruntime_peer(
        module, input_shape, calibration if plain else None, timing_input(input_shape).numpy(),
        host.cpu_flags())
    if ort_fn is not None:
        fns[onnx_peer.KEY] = ort_fn
    progress.step(f"timing host: {options.host_runs} inferences each, "
                  f"{options.rounds} alternating rounds")
    res = host.measure(program, fns, options.host_runs, rounds=options.rounds,
                       progress=lambda: progress.step("", 1))
    headline = "fp32" if "fp32" in res.peers_ms else "eager"
    compile_command = _make_flags(project, "host", None)
    scaling = None
    if options.threads:
        progress.step("timing host: 1 vs 2 threads, alternating rounds")
        scaling = host.measure_threads(program, (1, 2), options.host_runs,
                                       rounds=options.rounds,
                                       progress=lambda: progress.step("", 1))
    return {
        "threads_ms": scaling,
        "method": ("1 thread; C: the generated program's --bench JSON (CLOCK_MONOTONIC "
                   "around each node, median of per-round medians); peers: perf_counter "
                   "per inference; PyTorch: torch.set_num_threads(1), channels_last, "
                   "inference_mode; onnxruntime: 1 intra- and inter-op thread; "
                   f"{options.rounds} alternating rounds of "
                   f"{max(1, options.host_runs // options.rounds)} inferences each, "
                   "5 warm-up inferences per round"),
        "selftest": check.stdout.strip().splitlines()[-1],
        "compile": compile_command,
        "x86_kernel": _x86_kernel(compile_command),
        "compiler": _tool_version(["cc", "--version"]),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "bnnkit_ms": {"median": res.c_median_ms, "p90": res.c_p90_ms},
        "bnnkit_layers_ms": res.c_layers_ms,
        "pytorch_ms": {k: v for k, v in res.peers_ms.items() if k != onnx_peer.KEY},
        "onnxruntime_int8_ms": res.peers_ms.get(onnx_peer.KEY),
        "onnxruntime": ort_info,
        "headline_variant": headline,
        "speedup": {k: res.ratio(k) for k in res.peers_ms},
    }


def _x86_kernel(compile_command: str) -> str | None:
    """The binary-conv path of the host build (None off x86)."""
    args = shlex.split(compile_command)
    if not args:
        return None
    if "-DBNN_PORTABLE" in args:
        return "portable"
    return host.x86_popcount_path(args[0], [a for a in args[1:] if a.startswith(("-m", "-O"))])


def _arm_part(options: Options, project: Path, name: str, graph: Any, binary: list[int],
              progress: Progress) -> dict[str, Any]:
    """Per op kind and whole inference on each target; each binary conv of ``binary``
    on its own too."""
    plugin = insns.find_plugin(options.plugin)
    out: dict[str, Any] = {
        "method": (f"instructions per run under qemu-user with {plugin.name}, differential: "
                   f"(count(K2={insns.K2} runs) - count(K1={insns.K1} run)) / "
                   f"{insns.K2 - insns.K1}, driver built with the project's Makefile preset, "
                   f"static, golden test vector 0; per op kind: every node runs once in "
                   f"order, those of that kind K times; whole inference: every node K "
                   f"times; per binary layer: node i runs after nodes 0..i-1"),
        "plugin": str(plugin), "reference_totals": dict(REFERENCE_TOTALS), "targets": {},
    }
    for target in options.targets:
        progress.step(f"counting {TARGET_LABEL[target]} instructions under qemu")
        by_kind, whole, driver = breakdown.count_kinds(
            project, graph, name, target, plugin, cpu=options.cpu,
            progress=lambda msg: progress.step(msg, 1))
        entry = {
            "label": TARGET_LABEL[target],
            "compile": driver.compile_command,
            "compiler": _tool_version([insns.compiler_for(target), "--version"]),
            "qemu": insns.qemu_version(target),
            "by_kind": by_kind,
            "binary_conv_total": by_kind.get("binary conv", 0),
            "whole_inference": whole,
        }
        progress.step("llvm-mca cycles of the binary-conv kernels")
        flags = [a for a in shlex.split(driver.compile_command)
                 if a.startswith(("-O", "-m", "-std", "-D"))]
        entry["mca"] = mca.kernel_cycles(project, [insns.compiler_for(target), *flags], target)
        if binary or options.threads:
            with tempfile.TemporaryDirectory(prefix="bnnbench-") as tmp:
                # one build serves both: the per-node driver also runs a pool
                per_node = insns.build_driver(project, name, target, Path(tmp), options.cpu)
                if binary:
                    counts = insns.count_nodes(per_node, binary, plugin,
                                               progress=lambda msg: progress.step(msg, 1))
                    entry["per_node"] = {str(k): v for k, v in counts.items()}
                if options.threads:
                    entry["threads"] = _thread_balance(options, per_node, plugin, progress)
        out["targets"][target] = entry
    return out


def _thread_balance(options: Options, driver: insns.Driver, plugin: Path,
                    progress: Progress) -> dict[str, Any]:
    """Per thread count: each thread's instructions per inference and the busiest
    over the single-thread count (bench/threads.py)."""
    counts = sorted({1, *options.threads})
    balances = threads.count_balance(driver, counts, plugin,
                                     progress=lambda msg: progress.step(msg, 1))
    ratio = threads.ratios(balances)
    return {"method": "per-vCPU counts (plugin vcpus=on) of a driver running the model on "
                      f"a pool of T threads, (K2={insns.K2} - K1={insns.K1} runs) / "
                      f"{insns.K2 - insns.K1}; waiting threads' spins included",
            "counts": {str(b.threads): {"per_thread": list(b.per_thread),
                                        "busiest_over_single": ratio[b.threads]}
                       for b in balances}}


def _pi4_estimate(report: dict[str, Any], name: str) -> dict[str, Any] | None:
    """Estimated Pi 4 latency from the aarch64 count, beside LCE's published figure."""
    arm = report["arm"]["targets"].get("armv8")
    if arm is None:
        return None
    return {"ms": arm["whole_inference"] / (PI4_ASSUMED_IPC * PI4_HZ) * 1e3,
            "assumption": f"estimate, not a measurement: {PI4_HZ / 1e9:g} GHz Cortex-A72 at "
                          f"an assumed {PI4_ASSUMED_IPC:g} instructions per cycle, 1 thread",
            "lce_ms": LCE_PI4_MS.get(name),
            "lce_source": "Larq Compute Engine documentation, Benchmarks, Raspberry Pi 4, "
                          "1 thread"}


def as_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): as_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [as_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj
