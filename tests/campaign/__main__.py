"""``python -m tests.campaign``: the randomized exactness campaign (see README).

    python -m tests.campaign --models 10000 --cross 1000     # the full campaign
    python -m tests.campaign --seed 1234                     # replay one model
    python -m tests.campaign --summary                       # the log so far
    python -m tests.campaign ... --rerun-failures            # after a fix

Seeds ``start .. start+models-1`` run on host-asan; the first ``--cross`` of
them also on every flavor of ``--cross-targets``. Results go to
``OUT/log.jsonl`` (resumed if it exists), failing models to ``OUT/repro/``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import cbatch, log
from .generator import TAGS

CROSS = ("host", "generic", "armv8", "armv7")


def _flavors(text: str) -> list[str]:
    names = [t for t in text.split(",") if t]
    unknown = [t for t in names if t not in cbatch.FLAVORS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown flavor {', '.join(unknown)}; use "
                                         f"{', '.join(cbatch.FLAVORS)}")
    return names


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.campaign", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=int, default=200, help="models on host-asan")
    p.add_argument("--cross", type=int, default=20,
                   help="of those, how many also run on --cross-targets")
    p.add_argument("--cross-targets", type=_flavors, default=list(CROSS))
    p.add_argument("--start", type=int, default=0, help="first seed")
    p.add_argument("--seed", type=int, help="replay this one seed (on --targets)")
    p.add_argument("--targets", type=_flavors, default=list(cbatch.FLAVORS),
                   help="flavors for --seed")
    p.add_argument("--out", type=Path, default=Path("campaign-out"))
    p.add_argument("--workers", type=int, default=2, help="processes (at most 2 here)")
    p.add_argument("--batch", type=int, default=25, help="models per C program")
    p.add_argument("--rerun-failures", action="store_true",
                   help="check the log's failing seeds again (after a fix)")
    p.add_argument("--summary", action="store_true", help="print the log's summary and exit")
    return p.parse_args(argv)


def plan_of(args: argparse.Namespace) -> dict[int, list[str]]:
    if args.seed is not None:
        return {args.seed: args.targets}
    return {s: ["host-asan", *(args.cross_targets if s - args.start < args.cross else [])]
            for s in range(args.start, args.start + args.models)}


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    out = args.out / f"replay-{args.seed}" if args.seed is not None else args.out
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "log.jsonl"
    if not args.summary:
        from .runner import run
        records = log.read(log_path) if args.seed is None else []
        done = log.done(records)
        plan = {s: [f for f in fs if f not in done.get(s, ())] for s, fs in plan_of(args).items()}
        plan = {s: fs for s, fs in plan.items() if fs}
        if args.rerun_failures:
            plan.update({f["seed"]: sorted(done[f["seed"]], key=list(cbatch.FLAVORS).index)
                         for f in log.summarize(records)["failures"]})
        print(f"{len(plan)} models to run ({sum(map(len, plan.values()))} model-flavor "
              f"checks), log {log_path}", flush=True)
        start, count = time.time(), 0
        with log_path.open("a") as f:
            for record in run(plan, out, workers=args.workers, batch=args.batch,
                              cache=args.out / "cache"):
                f.write(json.dumps(record) + "\n")
                f.flush()
                if "seed" in record:
                    count += 1
                    bad = {k: v for k, v in record["results"].items() if v != "ok"}
                    if bad or args.seed is not None:
                        print(f"seed {record['seed']}: {json.dumps(record['results'])} "
                              f"{record.get('repro', '')}", flush=True)
                    if count % 500 == 0:
                        print(f"{count} models, {time.time() - start:.0f} s", flush=True)
        print(f"wall time {time.time() - start:.0f} s for {count} models")
    summary = log.summarize(log.read(log_path))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print("\n".join(log.lines(summary, TAGS)))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
