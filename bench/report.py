"""The benchmark report: a table for people, JSON for machines (the figure: ``plot``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..ir.atomic import write_file
from .breakdown import KINDS
from .runner import TARGET_LABEL, as_jsonable


def _m(n: float | None) -> str:
    return "-" if n is None else f"{n / 1e6:.2f} M"


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, r in enumerate(rows):
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i])
                 for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
        if k == 0 or (k == len(rows) - 2 and len(rows) > 2):
            lines.append("  ".join("-" * w for w in widths))
    return lines


def layer_rows(report: dict[str, Any]) -> list[list[str]]:
    """Per binary layer: MACs, instructions per target, reference engines."""
    arm = report.get("arm", {}).get("targets", {})
    engines = sorted({e for i in report["binary_layers"]
                      for e in report["layers"][i].get("reference_insns", {})})
    head = ["#", "layer", "binary MACs",
            *[f"{TARGET_LABEL[t]} insns" for t in arm], *engines]
    rows = [head]
    for i in report["binary_layers"]:
        layer = report["layers"][i]
        refs = layer.get("reference_insns", {})
        rows.append([str(i), layer.get("label", layer["node"]), _m(layer["binary_macs"]),
                     *[_m(t["per_node"][str(i)]) for t in arm.values()],
                     *[_m(refs.get(e)) for e in engines]])
    totals = report.get("arm", {}).get("reference_totals", {})
    rows.append(["", "binary convs", _m(report["binary_conv_macs"]),
                 *[_m(t["binary_conv_total"]) for t in arm.values()],
                 *[_m(totals.get(e)) for e in engines]])
    return rows


def kind_rows(report: dict[str, Any]) -> list[list[str]]:
    """Per op kind: instructions and share of the inference on each target; the whole
    inference and its ratio to the floor."""
    arm = report.get("arm", {}).get("targets", {})
    head = ["op kind", *[h for t in arm.values() for h in (f"{t['label']} insns", "share")]]
    rows = [head]
    for kind in KINDS:
        if any(kind in t["by_kind"] for t in arm.values()):
            rows.append([kind, *[c for t in arm.values() for c in (
                _m(t["by_kind"].get(kind, 0)),
                f"{t['by_kind'].get(kind, 0) / t['whole_inference']:.1%}")]])
    rows.append(["whole inference", *[c for t in arm.values() for c in (
        _m(t["whole_inference"]), f"{t['whole_inference'] / report['floor_insns']:.2f}x floor")]])
    return rows


def thread_rows(report: dict[str, Any]) -> list[list[str]]:
    """Per thread count: the busiest thread's instructions over one thread's, per
    target, and the host's measured time where it ran."""
    arm = {t["label"]: t["threads"]["counts"]
           for t in report.get("arm", {}).get("targets", {}).values() if "threads" in t}
    wall = (report.get("host") or {}).get("threads_ms") or {}
    counts = sorted({int(n) for c in arm.values() for n in c} | {int(n) for n in wall})
    rows = [["threads", *[f"{label} busiest / 1 thread" for label in arm],
             *(["host ms (speed-up)"] if wall else [])]]
    for n in counts:
        row = [str(n)]
        for c in arm.values():
            entry = c.get(str(n))
            row.append(f"{entry['busiest_over_single']:.3f} (ideal {1 / n:.3f})"
                       if entry else "-")
        if wall:
            ms = wall.get(str(n), {}).get("median")
            row.append("-" if ms is None else
                       f"{ms:.3f} ({wall['1']['median'] / ms:.2f}x)")
        rows.append(row)
    return rows


def mca_rows(report: dict[str, Any], target: str = "armv8") -> list[list[str]]:
    """Per binary-conv kernel of target: llvm-mca cycles per 128 binary MACs per core."""
    mca = report.get("arm", {}).get("targets", {}).get(target, {}).get("mca") or {}
    kernels = mca.get("kernels", [])
    if not kernels:
        return []
    cores = list(kernels[0]["cycles"])
    rows = [[f"{TARGET_LABEL[target]} kernel", "output",
             *[c.replace("cortex-", "") for c in cores]]]
    rows += [[k["shape"], k["output"], *[f"{k['cycles'][c]:.2f}" for c in cores]]
             for k in kernels]
    return rows


def text(report: dict[str, Any]) -> str:
    """The human-readable report printed by bnn-bench."""
    out = [f"bnn-bench: {report['workload']} ({report['note']})", ""]
    if report["binary_layers"]:
        rows = layer_rows(report)
        out += _table(rows, set(range(2, len(rows[0])))) + [""]
    arm = report.get("arm", {}).get("targets", {})
    if arm:
        rows = kind_rows(report)
        out += _table(rows, set(range(1, len(rows[0]))))
        out.append(f"floor: {_m(report['floor_insns'])} instructions (3 per 128 binary MACs "
                   f"+ 1 per 8 INT8 MACs; {report['binary_macs'] / 1e9:.3f} G binary, "
                   f"{report['int8_macs'] / 1e6:.1f} M INT8 MACs)")
    pi4 = report.get("pi4_estimate")
    if pi4:
        lce = f", LCE published {pi4['lce_ms']:g} ms" if pi4["lce_ms"] else ""
        out.append(f"Pi 4 estimate: {pi4['ms']:.1f} ms ({pi4['assumption']}){lce}")
    totals = report.get("arm", {}).get("reference_totals", {})
    has_refs = any("reference_insns" in report["layers"][i] for i in report["binary_layers"])
    if "armv8" in arm and totals and has_refs:
        ours = arm["armv8"]["binary_conv_total"]
        out.append("aarch64 binary convs vs peers: " + ", ".join(
            f"{ours / v:.2f}x {e}" for e, v in sorted(totals.items())))
    for target in TARGET_LABEL:
        rows = mca_rows(report, target)
        if rows:
            out += [""] + _table(rows + [[""] * len(rows[0])], set(range(2, len(rows[0]))))[:-2]
            mca = report["arm"]["targets"][target]["mca"]
            out.append(f"cycles per 128 binary MACs: {mca['method']}; {mca['llvm_mca']}")
    rows = thread_rows(report)
    if len(rows) > 1:
        out += [""] + _table(rows + [[""] * len(rows[0])], set(range(1, len(rows[0]))))[:-2]
        notes = []
        if len(rows[0]) > 1 + bool((report.get("host") or {}).get("threads_ms")):
            notes.append("busiest / 1 thread: per-vCPU instruction counts under qemu-user")
        if (report.get("host") or {}).get("threads_ms"):
            m = report["machine"]
            load = m.get("load_average_at_start")
            notes.append(f"host ms: median whole inference, {m['cpu']}, {m['cores']} cores"
                         + (f", load {load[0]:.1f} at start" if load else ""))
        out.append("; ".join(notes))
    if "host" in report:
        h = report["host"]
        out.append("")
        rows = [["host, 1 thread", "median ms", "p90 ms", "speed-up"]]
        rows.append(["bnnkit C", f"{h['bnnkit_ms']['median']:.3f}",
                     f"{h['bnnkit_ms']['p90']:.3f}", ""])
        names = {"fp32": "PyTorch fp32 (plain ops)", "eager": "PyTorch eager (the model)",
                 "onnxruntime_int8": "onnxruntime INT8 (QDQ)"}
        peers = dict(h["pytorch_ms"])
        if h.get("onnxruntime_int8_ms"):
            peers["onnxruntime_int8"] = h["onnxruntime_int8_ms"]
        for key, t in peers.items():
            rows.append([names.get(key, key), f"{t['median']:.3f}", f"{t['p90']:.3f}",
                         f"{h['speedup'][key]:.2f}x"])
        out += _table(rows + [["", "", "", ""]], {1, 2, 3})[:-2]
        ort = h.get("onnxruntime", {})
        if "not_run" in ort:
            out.append(f"onnxruntime INT8 not run: {ort['not_run']}")
        versions = f"torch {h['torch']}" + (f", onnxruntime {ort['onnxruntime']}"
                                            if "onnxruntime" in ort else "")
        kernel = f"; {h['x86_kernel']} binary convs" if h.get("x86_kernel") else ""
        out.append(f"{report['machine']['cpu']}{kernel}; {versions}; {h['selftest']}")
    return "\n".join(out)


def write_json(report: dict[str, Any], path: Path) -> Path:
    return write_file(path, json.dumps(as_jsonable(report), indent=1) + "\n")
