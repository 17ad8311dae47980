"""The campaign: seeds -> models -> export -> C on every flavor -> one log line per model.

Models are handled in batches (one C program per batch and flavor), by at
most ``workers`` processes that import torch once. Every finished model
appends one JSON line to ``log.jsonl`` (seed, options, IR ops, the outcome on
each flavor), so a stopped campaign resumes where it was; a model that fails
anywhere also gets ``repro/seed-N/`` with its model file and the commands
that replay it.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import shutil
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bnnkit.codegen.emit import render_project
from bnnkit.ir.graph import Graph

from ..randgraph import random_input, tiny_graph
from . import cbatch
from .generator import Case, make_case

REPLAY = "python -m tests.campaign --seed {seed} --targets {flavors}"


@dataclass(frozen=True)
class Toolchain:
    """Per flavor: the Makefile's flags and the C runtime compiled with them."""

    flags: dict[str, cbatch.Flags]
    runtime: dict[str, list[Path]]


def prepare(flavors: list[str], cache: Path) -> Toolchain:
    """Read each flavor's flags from a generated Makefile; compile the runtime once."""
    make_dir = cache / "makefile"
    make_dir.mkdir(parents=True, exist_ok=True)
    files = render_project(tiny_graph(), target="host", name="probe", cpu=None,
                           command_line="", test_vectors=1)
    (make_dir / "Makefile").write_text(files["Makefile"])
    flags = {f: cbatch.makefile_flags(make_dir, f) for f in flavors}
    runtime = {f: cbatch.runtime_objects(flags[f], cache) for f in flavors}
    return Toolchain(flags, runtime)


def ir_tags(graph: Graph) -> Counter:
    """Which integer ops (and variants) the exported graph uses."""
    tags: Counter = Counter()
    for node in graph.nodes:
        out = graph.tensors[node.outputs[0]].dtype
        tags[node.op] += 1
        if node.op in ("bconv", "conv_i8"):
            tags[f"{node.op}->{out}"] += 1
        if node.op == "bconv":
            tags[f"bconv.pad_{node.attrs['pad_mode']}"] += 1
        if node.op == "conv_i8" and node.attrs["groups"] > 1:
            tags["conv_i8.grouped"] += 1
        if node.op == "bmaxpool" and node.arrays["or_mask"].any():
            tags["bmaxpool.or_mask"] += 1
        if node.op == "threshold" and node.arrays["flip"].any():
            tags["threshold.flip"] += 1
    return +tags


def test_vectors(graph: Graph, case: Case) -> np.ndarray:
    """Three calibration inputs as the model sees them, and one uniformly random input."""
    from bnnkit import golden
    real = golden.quantize_input(graph, case.calibration[:3].numpy())
    return np.concatenate([real, random_input(graph, 1, case.seed)])


def export_case(case: Case) -> Graph:
    import torch

    import bnnkit
    x = case.calibration
    # bnnkit's own trace (dynamic batch) for some models; a static trace, twice as
    # fast, for the rest: both reach the same frontend.
    program = case.model if case.dynamic_trace else torch.export.export(case.model, (x[:1],))
    return bnnkit.export(program, x[:1], calibration=x, normalize=case.normalize)


def save_repro(case: Case, flavors: list[str], out: Path, record: dict,
               details: dict[str, str]) -> str:
    import bnnkit
    where = out / "repro" / f"seed-{case.seed}"
    where.mkdir(parents=True, exist_ok=True)
    model = where / "model.pt"
    try:
        bnnkit.save(case.model, model, example_input=case.calibration[:1],
                    calibration=case.calibration, normalize=case.normalize)
    except Exception as e:  # noqa: BLE001 - the repro notes say so
        details["save"] = f"bnnkit.save failed: {type(e).__name__}: {e}"
    notes = [f"seed {case.seed}: {json.dumps(record['results'])}",
             f"replay: {REPLAY.format(seed=case.seed, flavors=','.join(flavors))}",
             f"or export the model file: bnn-export {model} --target host -o "
             f"{where / 'project'} && {where / 'project'}/build/host/model --selftest",
             "", "layers:", case.layers, ""]
    for flavor, text in details.items():
        notes += [f"--- {flavor} ---", text]
    (where / "README.txt").write_text("\n".join(notes) + "\n")
    return str(where)


def run_batch(seeds: list[int], flavors_of: dict[int, list[str]], out: Path,
              tools: Toolchain) -> list[dict]:
    """Generate, export and check a batch of models; one record per model."""
    work = out / "work" / f"batch-{seeds[0]}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cbatch.link_runtime_headers(work)
    records: dict[int, dict] = {}
    cases: dict[int, Case] = {}
    details: dict[int, dict[str, str]] = {}
    exported = set()
    t0 = time.process_time()
    for seed in seeds:
        case = cases[seed] = make_case(seed)
        records[seed] = {"seed": seed, "tags": dict(case.tags), "results": {}}
        details[seed] = {}
        try:
            graph = export_case(case)
            records[seed]["ir"] = dict(ir_tags(graph))
            cbatch.write_model(graph, f"m{seed}", work, test_vectors(graph, case))
            exported.add(seed)
        except Exception as e:  # noqa: BLE001 - a finding, recorded with its repro
            message = f"export failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}"
            records[seed]["results"] = {f: message for f in flavors_of[seed]}
            details[seed]["export"] = traceback.format_exc()
    seconds = {"python": time.process_time() - t0}
    for flavor in tools.flags:
        names = [f"m{s}" for s in seeds if flavor in flavors_of[s] and s in exported]
        if not names:
            continue
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = cbatch.check_batch(names, work, flavor, tools.flags[flavor],
                                    tools.runtime[flavor])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds[flavor] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        for name in names:
            seed = int(name[1:])
            records[seed]["results"][flavor] = result.outcome.get(name, "no result")
            if name in result.detail:
                details[seed][flavor] = result.detail[name]
    for seed in seeds:
        record = records[seed]
        record["results"] = {f: record["results"][f] for f in flavors_of[seed]}
        if any(v != "ok" for v in record["results"].values()):
            record["repro"] = save_repro(cases[seed], flavors_of[seed], out, record,
                                         details[seed])
    shutil.rmtree(work, ignore_errors=True)
    return [{"batch": seeds[0], "models": len(seeds), "cpu_seconds": seconds},
            *records.values()]


def _init_worker() -> None:
    import torch
    torch.set_num_threads(1)


def run(plan: dict[int, list[str]], out: Path, workers: int = 2, batch: int = 20,
        cache: Path | None = None) -> Iterator[dict]:
    """Check every seed of ``plan`` (seed -> flavors); yield log records as batches end.

    ``cache`` (default ``out/cache``) keeps the compiled runtime between runs.
    """
    flavors = sorted({f for fs in plan.values() for f in fs}, key=list(cbatch.FLAVORS).index)
    tools = prepare(flavors, cache or out / "cache")
    seeds = sorted(plan)
    jobs = []
    for i in range(0, len(seeds), batch):
        chunk = seeds[i:i + batch]
        jobs.append((chunk, {s: plan[s] for s in chunk}, out, tools))
    if min(workers, len(jobs)) <= 1:  # in this process: no pool for a single batch
        for job in jobs:
            yield from run_batch(*job)
        return
    # A worker that dies (or cannot import this module) breaks the pool loudly.
    with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"),
                             initializer=_init_worker) as pool:
        for done in as_completed([pool.submit(run_batch, *job) for job in jobs]):
            yield from done.result()
