"""Write models/pose.md from measurements (never typed by hand).

    python -m bnnkit.cli.bench_cmd demos/pose/models/pose.pt --no-host --targets armv8 \\
        --json demos/pose/models/pose.bench.json          # aarch64 instructions (qemu)
    python -m bnnkit.cli.bench_cmd demos/pose/models/person.pt --no-host --targets armv8 \\
        --json demos/pose/models/person.bench.json        # the same for the person detector
    python -m bnnkit.demos.pose.evaluate                   # PCK -> models/pose.eval.json
    python -m bnnkit.demos.pose.make_card

Reads models/pose.train.json and models/person.train.json (data, recipe,
histories), models/pose.eval.json and the two bench files, and measures
binary/INT8 MACs, weight and arena bytes from the exported graphs and the host
latency from the generated programs' ``--bench 300 --json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..card import measure
from .detector import OVERLAP, RUNS
from .evaluate import table
from .person import PROPOSALS
from .presets import PERSON_MODEL, POSE_MODEL


def bench_command(model: Path) -> str:
    return (f"python -m bnnkit.cli.bench_cmd demos/pose/models/{model.name} --no-host "
            f"--targets armv8 --json demos/pose/models/{model.with_suffix('.bench.json').name}")


def aarch64(model: Path) -> dict | None:
    """The bench file's aarch64 counts of ``model``, or None before it is measured."""
    path = model.with_suffix(".bench.json")
    return json.loads(path.read_text())["arm"]["targets"]["armv8"] if path.exists() else None


def insns_line(arm: dict | None) -> str:
    if arm is None:
        return "not measured (run the bnn-bench command below)"
    return (f"{arm['whole_inference'] / 1e6:.2f} M per inference, of which "
            f"{arm['binary_conv_total'] / 1e6:.2f} M in the binary convs ({arm['label']}, "
            f"qemu-user instruction count, {arm['compiler'] or 'gcc'})")


def cost_rows(m, model: Path) -> list[tuple[str, str]]:  # noqa: ANN001 - card.Measurements
    from ...codegen.planner import plan_memory
    binary, int8 = m.binary_macs, m.int8_macs
    return [
        ("binary MACs / INT8 MACs", f"{binary:,} / {int8:,} "
                                    f"({100 * binary / (binary + int8):.1f}% binary)"),
        ("weights in C / arena", f"{m.weight_bytes:,} bytes / "
                                 f"{plan_memory(m.graph).arena_bytes:,} bytes (one static "
                                 f"arena, no malloc)"),
        ("aarch64 instructions", insns_line(aarch64(model))),
        ("model file", f"{model.stat().st_size:,} bytes")]


def rows(pairs: list[tuple[str, str]]) -> str:
    return "\n".join(f"| {k} | {v} |" for k, v in [("", ""), ("---", "---"), *pairs])


def per_frame(pose: dict | None, person: dict | None) -> str:
    if pose is None or person is None:
        return "not measured (run both bnn-bench commands below)"
    runs = PROPOSALS + 1
    total = runs * pose["whole_inference"] + RUNS * person["whole_inference"]
    return (f"at most {total / 1e6:.2f} M aarch64 instructions per frame of any size (320x240 "
            f"included) with the default `--person detect`: the person detector {RUNS} times "
            f"(the frame and its mirror image), {person['whole_inference'] / 1e6:.2f} M each, "
            f"and the pose network, "
            f"{pose['whole_inference'] / 1e6:.2f} M, on at most {runs} squares ({PROPOSALS} "
            f"detector proposals and the last frame's keypoint square); the frame's grey "
            f"conversion, the letterbox and crop resizes (OpenCV), the mirroring and both "
            f"decodings (numpy) "
            f"run outside the generated C and are not counted")


def detector_section(runs: int) -> str:
    model = PERSON_MODEL
    train = json.loads(model.with_suffix(".train.json").read_text())
    ev = json.loads(POSE_MODEL.with_suffix(".eval.json").read_text())["detector_c"]
    m = measure(model, runs)
    last = train["history"][-1]
    cooled = (f" (stopped at epoch {last['cooldown_from']['epoch']} of "
              f"{train['recipe']['epochs']}, then {last['cooldown_steps']} steps with the "
              f"learning rate falling to 0)" if "cooldown_steps" in last else "")
    r = train["recipe"]
    facts = rows([
        ("data", f"{train['train_frames']} frames with {train['train_people']} person squares "
                 f"of {', '.join(train['train_sources'])} (the pose set's crops: HOG + "
                 f"teacher check, or the teacher's keypoint boxes)"),
        ("held out", f"{train['heldout']}: the C's square overlaps the teacher's with "
                     f"IoU >= 0.5 in {100 * ev['heldout_iou50']:.0f}% of them, mean IoU "
                     f"{ev['heldout_mean_iou']:.2f}"),
        *cost_rows(m, model),
        (f"host latency (`--bench {runs}`)", m.latency)])
    hist = ", ".join(f"{100 * h['heldout_iou50']:.0f}" for h in train["history"][-5:])
    return f"""## The person detector (`models/person.pt`)

Finds the person the pose network looks at (`--person detect`, the default):
the frame, grey, letterboxed into 64x48; CenterNet-style maps (person centre,
offset, square side) on a 16x12 grid, the centre logits averaged with those of the
mirrored canvas; the squares of its {PROPOSALS} surest cells that do not overlap
(IoU < {OVERLAP}) and the last frame's keypoint square are tried, and the pose network keeps
the one where it sees the most joints. The mirror averaging and the overlap rule were
chosen on `python -m bnnkit.demos.pose.evaluate --validation` (the first frames of two
training clips), not on the held-out clip.
`train_detector.py`'s docstring has the recipe.

{facts}

Training: {r['epochs']} epochs of 1024 random windows{cooled}, Adam with one-cycle lr
{r['lr']}, batch {r['batch']}, seed {r['seed']}. Held-out frames with IoU >= 0.5 over the
last 5 epochs (PyTorch, the canvas alone, %): {hist}.

| layer | op | output | binary MACs | INT8 MACs | weight bytes |
|---|---|---|---|---|---|
{m.layers}
"""


def card(runs: int = 300) -> str:
    model = POSE_MODEL
    train = json.loads(model.with_suffix(".train.json").read_text())
    ev = json.loads(model.with_suffix(".eval.json").read_text())
    m = measure(model, runs)
    r = train["recipe"]
    hist = {k: ", ".join(f"{100 * h['test_pck']:.1f}" for h in train[f"{k}_history"][-5:])
            for k in ("float", "bnn")}
    facts = rows([
        ("data", f"{train['train_crops']} teacher-labelled person crops of "
                 f"{', '.join(train['train_sources'])}"),
        ("held out (whole clips)", f"{ev['test_crops']} crops of "
                                   f"{', '.join(ev['test_sources'])}, and the clip "
                                   f"`data/heldout_clip.mp4`"),
        ("metric", "PCK@0.2: a keypoint is right within 0.2 x the long side of the box "
                   "around the teacher's visible keypoints; only keypoints the teacher sees "
                   "(visibility >= 0.5) count"),
        *cost_rows(m, model),
        (f"host latency (`--bench {runs}`)", m.latency),
        ("the demo, per frame", per_frame(aarch64(model), aarch64(PERSON_MODEL)))])
    detector = json.loads(PERSON_MODEL.with_suffix(".train.json").read_text())
    return f"""# pose: binary human-pose network

Generated by `python -m bnnkit.demos.pose.make_card`; do not edit.

The keypoints this model was trained on and is scored against come from a
teacher model (BlazePose, mediapipe 0.10.21), not from human annotators.

{facts}

{table(ev)}

Training: {r['epochs']} epochs, Adam with one-cycle lr {r['lr']}, batch {r['batch']}, seed
{r['seed']}; heatmap cross-entropy against Gaussian targets (sigma {r['extra']['sigma_cells']}
cell); the BNN's targets are {train['bnn_kd_alpha']} x the float student's heatmaps (distillation).
PCK on the held-out crops over the last 5 epochs (PyTorch, %): float student
{hist['float']}; BNN {hist['bnn']}. The training script's docstring has the full recipe.

Re-create:

```
python -m bnnkit.demos.pose.label --fetch
{train['command']}
{detector['command']}
{bench_command(model)}
{bench_command(PERSON_MODEL)}
python -m bnnkit.demos.pose.evaluate
python -m bnnkit.demos.pose.make_card
python -m bnnkit.demos.pose.make_figure
```

| layer | op | output | binary MACs | INT8 MACs | weight bytes |
|---|---|---|---|---|---|
{m.layers}

{detector_section(runs)}"""


def main() -> None:
    path = POSE_MODEL.with_suffix(".md")
    path.write_text(card())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
