"""Training loop shared by the demo trainers: resumable, seeded, checkpointed.

A checkpoint (model, optimizer, scheduler, epoch, step, history) is written
atomically every ``save_every`` steps and at each epoch end; running the same
command again resumes where it stopped (the sample order of an epoch and the
augmentation of each step are functions of (seed, epoch, step), so a resumed
run sees the same batches).

The task lives in two callables: ``batch_loss(model, idx, gen)`` (the loss on
training samples ``idx``, augmented with random generator ``gen``) and
``evaluate(model)`` (test metrics for the history, e.g. ``{"test_acc": ...}``).
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..nn import BinaryConv2d, BinaryLinear

BatchLoss = Callable[[nn.Module, torch.Tensor, torch.Generator], torch.Tensor]
Evaluate = Callable[[nn.Module], dict]


@dataclass
class Recipe:
    epochs: int
    lr: float = 3e-3                 # one-cycle peak (Adam)
    weight_decay: float = 0.0
    batch: int = 128
    label_smoothing: float = 0.1
    kd_alpha: float = 0.0            # weight of the distillation term (0 = none)
    kd_temperature: float = 2.0
    seed: int = 0
    extra: dict = field(default_factory=dict)


def for_shipping(model: nn.Module) -> nn.Module:
    """A copy whose binary layers hold sign(latent weight) (+-1.0) instead of the latent
    floats: the same function (only the sign is ever used) in a model file that
    compresses about 30x smaller."""
    shipped = copy.deepcopy(model).eval()
    with torch.no_grad():
        for m in shipped.modules():
            if isinstance(m, BinaryConv2d | BinaryLinear):
                m.weight.copy_(torch.where(m.weight >= 0, 1.0, -1.0))
    return shipped


def atomic_torch_save(obj: object, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])


def _batch(recipe: Recipe, n: int, epoch: int, step: int) -> tuple[torch.Tensor, torch.Generator]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(recipe.seed * 1000 + epoch))
    idx = order[step * recipe.batch:(step + 1) * recipe.batch]
    return idx, torch.Generator().manual_seed(recipe.seed * 7919 + epoch * 100003 + step)


def train(model: nn.Module, recipe: Recipe, ckpt: Path, n: int, batch_loss: BatchLoss,
          evaluate: Evaluate, save_every: int = 100, desc: str = "train") -> dict:
    """Train ``model`` in place on ``n`` samples; returns the state (history included)."""
    steps_per_epoch = n // recipe.batch
    total = recipe.epochs * steps_per_epoch
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe.lr, total_steps=total)
    state = {"epoch": 0, "step": 0, "history": [], "recipe": asdict(recipe), "seconds": 0.0}
    if ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        if saved["recipe"] != asdict(recipe):
            raise SystemExit(f"{ckpt}: was started with {saved['recipe']}, now asked for "
                             f"{asdict(recipe)}; use the same options or delete the checkpoint")
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        state = {k: saved[k] for k in state}
        print(f"resuming {ckpt} at epoch {state['epoch']} step {state['step']}", flush=True)

    def save() -> None:
        atomic_torch_save({**state, "model": model.state_dict(), "opt": opt.state_dict(),
                           "sched": sched.state_dict()}, ckpt)

    while state["epoch"] < recipe.epochs:
        epoch = state["epoch"]
        torch.manual_seed(recipe.seed * 1000 + epoch + state["step"])
        model.train()
        bar = tqdm(range(state["step"], steps_per_epoch), desc=f"{desc} {epoch + 1}/"
                   f"{recipe.epochs}", initial=state["step"], total=steps_per_epoch,
                   mininterval=10, ascii=True)
        t0, running = time.time(), []
        for s in bar:
            idx, gen = _batch(recipe, n, epoch, s)
            loss = batch_loss(model, idx, gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            running.append(float(loss.detach()))
            state["step"] = s + 1
            if (s + 1) % 20 == 0:
                bar.set_postfix(loss=f"{np.mean(running[-50:]):.3f}")
            if (s + 1) % save_every == 0:
                state["seconds"] += time.time() - t0
                t0 = time.time()
                save()
        state["seconds"] += time.time() - t0
        state["history"].append({"epoch": epoch + 1, **evaluate(model),
                                 "loss": float(np.mean(running)) if running else None,
                                 "seconds": round(state["seconds"], 1)})
        print(json.dumps(state["history"][-1]), flush=True)
        state["epoch"], state["step"] = epoch + 1, 0
        save()
    model.eval()
    return state


def cool_down(model: nn.Module, recipe: Recipe, ckpt: Path, steps: int, n: int,
              batch_loss: BatchLoss, evaluate: Evaluate, desc: str = "cool-down") -> dict:
    """End an interrupted one-cycle run early: ``steps`` more steps with the learning
    rate falling linearly from where the checkpoint stopped to 0.

    For shipping a usable model when the full schedule does not fit the time
    available; the history records it (``cooldown_steps``).
    """
    saved = torch.load(ckpt, weights_only=False)
    model.load_state_dict(saved["model"])
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    opt.load_state_dict(saved["opt"])
    lr0 = opt.param_groups[0]["lr"]
    epoch, start = saved["epoch"], saved["step"]
    steps_per_epoch = n // recipe.batch
    model.train()
    t0 = time.time()
    for i in tqdm(range(steps), desc=desc, mininterval=10, ascii=True):
        idx, gen = _batch(recipe, n, epoch + (start + i) // steps_per_epoch,
                          (start + i) % steps_per_epoch)
        for g in opt.param_groups:
            g["lr"] = lr0 * (1 - i / steps)
        loss = batch_loss(model, idx, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    history = saved["history"] + [{"epoch": round(epoch + (start + steps) / steps_per_epoch, 2),
                                   **evaluate(model), "cooldown_steps": steps,
                                   "cooldown_from": {"epoch": epoch, "step": start, "lr": lr0},
                                   "seconds": round(saved["seconds"] + time.time() - t0, 1)}]
    print(json.dumps(history[-1]), flush=True)
    model.eval()
    return {"history": history}
