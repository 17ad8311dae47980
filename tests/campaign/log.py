"""The campaign's append-only log (one JSON record per line) and its summary."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path


def read(path: Path) -> list[dict]:
    """Every complete record (a line cut short by a stopped run is ignored)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def done(records: list[dict]) -> dict[int, set[str]]:
    """Seed -> flavors it already has a result on."""
    out: dict[int, set[str]] = defaultdict(set)
    for r in records:
        if "seed" in r:
            out[r["seed"]].update(r["results"])
    return out


def outcome_kind(outcome: str) -> str:
    if outcome == "ok":
        return "ok"
    return outcome.split(":", 1)[0].split(" ", 1)[0]   # mismatch, sanitizer, export, build...


def summarize(records: list[dict]) -> dict:
    """Per flavor: models run and outcomes; option and IR op counts; failing seeds."""
    models = [r for r in records if "seed" in r]
    latest = {r["seed"]: r for r in models}           # a replayed seed counts once
    per_flavor: dict[str, Counter] = defaultdict(Counter)
    tags: Counter = Counter()
    ir: Counter = Counter()
    failures = []
    for r in latest.values():
        for flavor, outcome in r["results"].items():
            per_flavor[flavor]["models"] += 1
            per_flavor[flavor][outcome_kind(outcome)] += 1
        tags.update(r["tags"])
        ir.update(r.get("ir", {}))
        bad = {f: o for f, o in r["results"].items() if o != "ok"}
        if bad:
            failures.append({"seed": r["seed"], "results": bad, "repro": r.get("repro")})
    cpu: Counter = Counter()
    counted: Counter = Counter()
    for b in (r for r in records if "batch" in r):
        cpu.update(b["cpu_seconds"])
        counted["python"] += b["models"]
    for r in latest.values():
        counted.update(r["results"].keys())
    per_model = {k: cpu[k] / counted[k] for k in cpu if counted[k]}
    return {"flavors": {f: dict(c) for f, c in per_flavor.items()}, "tags": dict(tags),
            "ir_ops": dict(ir), "failures": failures, "cpu_seconds_per_model": per_model}


def lines(summary: dict, required_tags: tuple[str, ...]) -> list[str]:
    out = ["models per flavor:"]
    for flavor, c in summary["flavors"].items():
        rest = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k not in ("models", "ok"))
        out.append(f"  {flavor:9s} {c['models']:6d} run, {c.get('ok', 0):6d} equal to golden"
                   + (f", {rest}" if rest else ""))
    out.append("CPU seconds per model: " + ", ".join(
        f"{k} {v:.3f}" for k, v in summary["cpu_seconds_per_model"].items()))
    missing = [t for t in required_tags if t not in summary["tags"]]
    out.append("options (times generated): " + ", ".join(
        f"{t} {summary['tags'].get(t, 0)}" for t in required_tags))
    out.append("IR ops (nodes): " + ", ".join(
        f"{k} {v}" for k, v in sorted(summary["ir_ops"].items())))
    out.append(f"options never generated: {', '.join(missing) or 'none'}")
    out.append(f"failing models: {len(summary['failures'])}")
    for f in summary["failures"][:50]:
        out.append(f"  seed {f['seed']}: {json.dumps(f['results'])} repro {f['repro']}")
    return out
