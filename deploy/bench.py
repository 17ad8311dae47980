"""The benchmark table: per layer and total, median and p90, device beside this PC."""

from __future__ import annotations


def _us(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 10000 else f"{value / 1000:.2f} ms"


def format_table(bench: dict, host: dict | None = None) -> str:
    """Text table of a ``--bench --json`` result, with this PC's medians if given."""
    host_layers = {layer["name"]: layer for layer in (host or {}).get("layers", [])}
    head = (f"{'#':>3}  {'layer':<28} {'op':<14} {'MACs':>12} {'median us':>10} "
            f"{'p90 us':>10}")
    if host:
        head += f" {'this PC us':>11}"
    lines = [head]
    for layer in bench.get("layers", []):
        row = (f"{layer['index']:>3}  {layer['name'][:28]:<28} {layer['op'][:14]:<14} "
               f"{layer['macs']:>12,} {_us(layer['median']):>10} {_us(layer['p90']):>10}")
        if host:
            other = host_layers.get(layer["name"])
            row += f" {_us(other['median'] if other else None):>11}"
        lines.append(row)
    total = bench.get("total", {})
    macs = sum(layer["macs"] for layer in bench.get("layers", []))
    row = (f"{'':>3}  {'total':<28} {'':<14} {macs:>12,} {_us(total.get('median')):>10} "
           f"{_us(total.get('p90')):>10}")
    if host:
        row += f" {_us(host.get('total', {}).get('median')):>11}"
    lines.append(row)
    return "\n".join(lines)


def summary_line(bench: dict) -> str:
    total = bench.get("total", {})
    median = total.get("median")
    rate = f", {1e6 / median:.0f} inferences/s" if median else ""
    return (f"{bench.get('runs')} runs after {bench.get('warmup')} warm-up, threads "
            f"{bench.get('threads', 1)}: median {_us(median)} us, p90 "
            f"{_us(total.get('p90'))} us{rate}")
