"""Accuracy of each shipped model: float baseline, PyTorch BNN and the exported C.

    python -m bnnkit.demos.classification.evaluate --all        # markdown table
    python -m bnnkit.demos.classification.evaluate fashion

* float: the float network of the same shape, as measured by the training
  script at its end (``models/<name>.train.json``);
* BNN PyTorch: the shipped ``models/<name>.pt`` program run by torch on the
  whole test split (re-measured here);
* C: the generated C (host build, through cffi) on the raw uint8 pixels of
  the same images: what the demo and the Pi run.

Results are also written to ``models/<name>.eval.json`` (read by make_card).
Needs torch (the export, the PyTorch run); the C part needs only a compiler.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from .presets import MODELS, PRESETS


def test_split(name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(uint8 images (N, 28, 28) as the model sees them, labels, description)."""
    if PRESETS[name].data == "fashion":
        from .datasets import load_fashion
        images, labels = load_fashion("test")
        return images, labels, "Fashion-MNIST test set (10,000)"
    from .augment import render_clean
    from .train_digits import split
    _, _, cells, labels = split()
    return render_clean(cells), labels, "digits.png held-out rows (1,000)"


def torch_accuracy(model_path, images: np.ndarray, labels: np.ndarray,  # noqa: ANN001
                   normalize: dict) -> float:
    import torch

    from ...export.modelfile import load
    module = load(model_path).program.module()
    mean, std = normalize["mean"][0], normalize["std"][0]
    x = (torch.from_numpy(images.astype(np.float32))[:, None] / 255 - mean) / std
    with torch.no_grad():
        pred = torch.cat([module(x[i:i + 250]) for i in range(0, len(x), 250)]).argmax(1)
    return float((pred.numpy() == labels).mean())


def c_accuracy(project, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:  # noqa: ANN001
    from ...runtime import CModel
    model = CModel(project)
    t0 = time.perf_counter()
    out = model.run_int(images[:, :, :, None])
    per_image = (time.perf_counter() - t0) / len(images)
    pred = out.reshape(len(images), -1).argmax(1)
    return float((pred == labels).mean()), per_image


def evaluate(name: str) -> dict:
    from .engine import host_project, load_graph
    model_path = PRESETS[name].model
    train = json.loads(model_path.with_suffix(".train.json").read_text())
    images, labels, what = test_split(name)
    graph = load_graph(model_path)
    project = host_project(model_path)
    acc_c, per_image = c_accuracy(project, images, labels)
    acc_torch = torch_accuracy(model_path, images, labels, graph.meta["input"]["normalize"])
    result = {"model": name, "test_set": what, "images": len(labels),
              "float": train.get("float_teacher_test_acc"), "bnn_pytorch": acc_torch,
              "c": acc_c, "c_cffi_ms_per_image": per_image * 1e3,
              "project": str(project)}
    model_path.with_suffix(".eval.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.2f}%"


def table(results: list[dict]) -> str:
    rows = ["| model | test set | float (same shape) | BNN, PyTorch | BNN, generated C | "
            "C - PyTorch |", "|---|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {r['model']} | {r['test_set']} | {pct(r['float'])} | "
                    f"{pct(r['bnn_pytorch'])} | {pct(r['c'])} | "
                    f"{100 * (r['c'] - r['bnn_pytorch']):+.2f} pt |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", choices=[*PRESETS, []], metavar="MODEL",
                   help=f"one of {', '.join(PRESETS)}")
    p.add_argument("--all", action="store_true", help="every shipped model")
    args = p.parse_args(argv)
    names = list(PRESETS) if args.all or not args.models else args.models
    names = [n for n in names if (MODELS / f"{n}.pt").exists()]
    print(table([evaluate(n) for n in names]))


if __name__ == "__main__":
    main()
