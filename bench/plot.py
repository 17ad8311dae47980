"""``bnn-bench --plot``: one picture of a benchmark report.

Left: instructions per binary conv under qemu (bnnkit on each ARM target,
the published aarch64 counts of the peers) against the floor, the fewest
instructions the layer's work allows on NEON: 3 per 128 binary MACs (EOR,
CNT and one combining step per 128-bit vector) plus 1 per 8 INT8 MACs
(SMLAL on 8 lanes). Right: host time per inference of bnnkit's C and of
each peer measured in the same run, with how many times faster bnnkit is.
With a threads section, a last panel: the speed-up each thread count allows
(one thread's instructions over the busiest thread's, per ARM target) against
the ideal, and the host's measured speed-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .breakdown import KINDS, floor_instructions, kind_of

_PEER_NAMES = {"onnxruntime_int8": "onnxruntime INT8", "fp32": "PyTorch fp32 (plain ops)",
               "eager": "PyTorch eager (bnnkit.nn)"}
_COLORS = {"bnnkit aarch64": "#1f77b4", "bnnkit armv7": "#6baed6",
           "LCE aarch64 (published)": "#ff7f0e", "daBNN aarch64 (published)": "#2ca02c"}


def floor_insns(layer: dict[str, Any]) -> float:
    """The floor of one layer, in instructions."""
    return floor_instructions(layer["binary_macs"], layer["int8_macs"])


def plot(report: dict[str, Any], path: Path) -> Path | None:
    """Write the figure to ``path`` (PNG, SVG, PDF by suffix); None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    arm = report.get("arm", {}).get("targets", {})
    host = report.get("host")
    scaling = any("threads" in t for t in arm.values()) or bool((host or {}).get("threads_ms"))
    kinds = ([_instructions] if arm or not host else []) + ([_host] if host else []) + \
        ([_threads] if scaling else [])
    widths = {_instructions: 3, _host: 2, _threads: 1.6}
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.5 + 4.2 * len(kinds), 5),
                             gridspec_kw={"width_ratios": [widths[k] for k in kinds]},
                             squeeze=False)
    for ax, draw in zip(axes[0], kinds, strict=True):
        if draw is _instructions:
            _instructions(ax, report, arm)
        elif draw is _host:
            _host(ax, report, host)
        else:
            _threads(ax, report, arm, host)
    fig.suptitle(f"bnn-bench {report['workload']}, {report['date'][:10]}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def _instructions(ax: Any, report: dict[str, Any], arm: dict[str, Any]) -> None:
    binary = report["binary_layers"]
    per_layer = bool(binary) and all(str(i) in t.get("per_node", {})
                                     for t in arm.values() for i in binary)
    if per_layer:         # small models: each binary conv, beside the peers' counts
        layers = [report["layers"][i] for i in binary]
        series: dict[str, list[float]] = {
            f"bnnkit {t['label']}": [t["per_node"][str(i)] / 1e6 for i in binary]
            for t in arm.values()}
        for layer in layers:
            for engine, v in layer.get("reference_insns", {}).items():
                series.setdefault(f"{engine} aarch64 (published)", []).append(v / 1e6)
        floors = [floor_insns(layer) / 1e6 for layer in layers]
        labels = [f"{layer.get('label', layer['node'])}\n{layer['binary_macs'] / 1e6:.1f} M MACs"
                  for layer in layers]
        what = "binary convs"
    else:                 # whole networks: one bar per op kind
        kinds = [k for k in KINDS if any(k in t["by_kind"] for t in arm.values())]
        series = {f"bnnkit {t['label']}": [t["by_kind"].get(k, 0) / 1e6 for k in kinds]
                  for t in arm.values()}
        floors = [sum(floor_insns(layer) for layer in report["layers"]
                      if kind_of(layer["op"]) == k) / 1e6 for k in kinds]
        labels = kinds
        what = "op kinds"
    n = max(1, len(series))
    width = 0.8 / n
    for k, (key, values) in enumerate(series.items()):
        xs = [x - 0.4 + (k + 0.5) * width for x in range(len(labels))]
        bars = ax.bar(xs, values, width, label=key, color=_COLORS.get(key))
        if key.startswith("bnnkit"):  # how far from the floor bnnkit is
            for bar, v, f in zip(bars, values, floors, strict=True):
                if not f:
                    continue
                ax.annotate(f"{v / f:.1f}x", (bar.get_x() + bar.get_width() / 2, v),
                            ha="center", va="bottom", fontsize=7, xytext=(0, 1),
                            textcoords="offset points")
    for x, f in enumerate(floors):
        ax.hlines(f, x - 0.45, x + 0.45, colors="black", linewidth=2,
                  label="floor: 3 insns / 128 binary MACs + 1 / 8 INT8 MACs" if x == 0 else None)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("instructions per inference (millions)")
    ax.set_ylim(0, max([*floors, *(v for vs in series.values() for v in vs)]) * 1.15)
    ax.set_title(f"{what} under qemu-user (exact counts; bars labelled with "
                 f"multiples of the floor)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, loc="upper left")


def _host(ax: Any, report: dict[str, Any], host: dict[str, Any]) -> None:
    rows = [("bnnkit C", host["bnnkit_ms"]["median"], None)]
    peers = dict(host["pytorch_ms"])
    if host.get("onnxruntime_int8_ms"):
        peers["onnxruntime_int8"] = host["onnxruntime_int8_ms"]
    for key, t in sorted(peers.items(), key=lambda kv: kv[1]["median"]):
        rows.append((_PEER_NAMES.get(key, key), t["median"], host["speedup"][key]))
    ys = range(len(rows))[::-1]
    colors = ["#1f77b4"] + ["#999999"] * (len(rows) - 1)
    bars = ax.barh(list(ys), [ms for _, ms, _ in rows], color=colors)
    for bar, (_, ms, ratio) in zip(bars, rows, strict=True):
        text = f"{ms:.2f} ms" + (f"  (bnnkit {ratio:.1f}x faster)" if ratio else "")
        ax.annotate(text, (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                    va="center", fontsize=8, xytext=(3, 0), textcoords="offset points")
    ax.set_yticks(list(ys), [name for name, _, _ in rows], fontsize=8)
    ax.set_xlim(0, max(ms for _, ms, _ in rows) * 2.0)  # room for the longest label
    ax.set_xlabel("median ms per inference, 1 thread")
    machine = report["machine"]
    kernel = f", {host['x86_kernel']} kernel" if host.get("x86_kernel") else ""
    load = machine.get("load_average_at_start")
    load = f", load {load[0]:.1f} at start" if load else ""
    ax.set_title(f"host, same run: {machine['cpu']}{kernel}{load}", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


def _threads(ax: Any, report: dict[str, Any], arm: dict[str, Any],
             host: dict[str, Any] | None) -> None:
    top = 1
    for t in arm.values():
        if "threads" not in t:
            continue
        counts = sorted(t["threads"]["counts"].items(), key=lambda kv: int(kv[0]))
        xs = [int(n) for n, _ in counts]
        ys = [1 / c["busiest_over_single"] for _, c in counts]
        ax.plot(xs, ys, "o-", label=f"bnnkit {t['label']} (instructions, qemu)",
                color=_COLORS.get(f"bnnkit {t['label']}"))
        top = max(top, *xs)
    wall = (host or {}).get("threads_ms") or {}
    if wall:
        xs = sorted(int(n) for n in wall)
        ax.plot(xs, [wall["1"]["median"] / wall[str(n)]["median"] for n in xs], "s--",
                color="#555555", label=f"host, measured ({report['machine']['cores']} cores)")
        top = max(top, *xs)
    ax.plot([1, top], [1, top], ":", color="black", label="ideal")
    ax.set_xlabel("threads")
    ax.set_ylabel("speed-up over 1 thread")
    ax.set_xticks(range(1, top + 1))
    ax.set_title("threads: 1 thread / busiest thread", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
