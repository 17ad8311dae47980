"""Benchmark workloads: PyTorch models built from bnnkit.nn layers.

The zoo's ImageNet networks (``bnnkit.zoo``) run at 224x224 with random weights;
their published Pi 4 latencies under Larq Compute Engine are here too.
``cifar_bnn`` is the shared comparison workload of ``peers.md``: the same
shapes every peer figure was measured on. Its weights are random (fixed
seed) and its BatchNorm statistics are randomized to look trained; it is a
*speed* workload, its predictions mean nothing. Speed does not depend on the
weight values: every binary MAC is executed whatever the bits are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .. import zoo
from ..nn import BinaryConv2d

#: Binary MACs per layer of cifar_bnn, as peers.md lists them (3x3, stride 1, pad 1).
CIFAR_BNN_LAYERS = (
    ("64->64 @32x32", 64, 64, 32),
    ("64->128 @32x32", 64, 128, 32),
    ("128->128 @16x16", 128, 128, 16),
    ("128->256 @16x16", 128, 256, 16),
    ("256->256 @16x16", 256, 256, 16),
)

#: Reference instruction counts per inference under qemu-aarch64 (peers.md,
#: measured with the same plugin, differential method), per binary layer.
REFERENCE_INSNS = {
    "daBNN": (1.64e6, 2.89e6, 1.17e6, 2.40e6, 4.71e6),
    "LCE": (1.42e6, 2.83e6, 1.15e6, 2.30e6, 4.45e6),
}
REFERENCE_TOTALS = {"daBNN": 12.82e6, "LCE": 12.14e6}

#: Larq Compute Engine's published single-thread latencies on a Raspberry Pi 4
#: Model B (Cortex-A72 at 1.5 GHz, 64-bit OS), milliseconds per 224x224 inference:
#: the "Benchmarks" page of the LCE documentation (docs.larq.dev/compute-engine/
#: benchmark/), larq zoo's models converted with LCE's converter.
LCE_PI4_MS = {"quicknet_small": 27.7, "quicknet": 45.0, "bireal_net18": 85.4,
              "xnor_net": 54.7, "binary_densenet28": 181.0}
#: Pi 4 estimate from an instruction count: 1.5 GHz at an assumed 1.5 instructions
#: per cycle (two ASIMD pipes; NEON popcount code runs at about 1 to 2 on the A72).
PI4_HZ = 1.5e9
PI4_ASSUMED_IPC = 1.5


@dataclass(frozen=True)
class Workload:
    """A model to benchmark, with its input shape and calibration sample."""

    name: str
    model: nn.Module
    input_shape: tuple[int, ...]
    calibration: torch.Tensor
    note: str
    #: Labels for the binary conv layers in order (for the table), if known.
    layer_labels: tuple[str, ...] = ()
    #: Reference figures per binary layer, keyed by engine (same order as layer_labels).
    references: dict[str, tuple[float, ...]] | None = None
    #: Count every binary conv on its own too (2 qemu runs each): small models only.
    per_layer: bool = True


def randomize_batchnorm(model: nn.Module, seed: int) -> nn.Module:
    """Trained-looking BatchNorm statistics: about half the channels fire."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 2)
            m.running_var.copy_(torch.rand(c, generator=g) * 20 + 5)
            m.weight.data.copy_(torch.rand(c, generator=g) * 1.5 + 0.25)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.2)
    return model.eval()


def _bconv(cin: int, cout: int) -> list[nn.Module]:
    return [BinaryConv2d(cin, cout, 3, padding=1, pad_value=1.0, bias=False),
            nn.BatchNorm2d(cout)]


def cifar_bnn(seed: int = 0) -> Workload:
    """The peers.md "cifar_bnn" network (random weights, fixed seed)."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64),
        *_bconv(64, 64),
        *_bconv(64, 128), nn.MaxPool2d(2),
        *_bconv(128, 128),
        *_bconv(128, 256),
        *_bconv(256, 256), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(256, 10),
    )
    randomize_batchnorm(model, seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    calibration = torch.randn(16, 3, 32, 32, generator=g)
    return Workload(
        name="cifar_bnn", model=model, input_shape=(1, 3, 32, 32), calibration=calibration,
        note=f"random weights (seed {seed}), randomized BatchNorm statistics, calibrated on "
             f"16 random N(0,1) inputs: a speed workload, its outputs mean nothing",
        layer_labels=tuple(label for label, *_ in CIFAR_BNN_LAYERS),
        references=dict(REFERENCE_INSNS))


def tiny(seed: int = 0) -> Workload:
    """A small network for tests: binary convs with 1x, 2x, 0.5x the MACs of the first.
    The last, with int8 output, is a 1x1 window: one that armv7 runs through a block
    generated at export (its 3x3 windows of 64 and 128 channels run straight)."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64),
        *_bconv(64, 64),
        *_bconv(64, 128),
        BinaryConv2d(128, 64, 1, bias=False), nn.BatchNorm2d(64),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 4),
    )
    randomize_batchnorm(model, seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    return Workload(name="tiny", model=model, input_shape=(1, 3, 8, 8),
                    calibration=torch.randn(4, 3, 8, 8, generator=g),
                    note="test workload: random weights, 8x8 input")


def zoo_workload(name: str, seed: int = 0) -> Workload:
    """A zoo network at 224x224x3 with random weights and trained-looking statistics."""
    torch.manual_seed(seed)
    model = zoo.randomize(zoo.MODELS[name](), seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    shape = (1, 3, zoo.RESOLUTION, zoo.RESOLUTION)
    return Workload(
        name=name, model=model, input_shape=shape,
        calibration=torch.randn(2, *shape[1:], generator=g),
        note=f"bnnkit.zoo.{name} at {zoo.RESOLUTION}x{zoo.RESOLUTION}, random weights "
             f"(seed {seed}), calibrated on 2 random N(0,1) inputs: a speed workload",
        per_layer=False)


def _zoo_factory(name: str) -> Callable[[], Workload]:
    return lambda: zoo_workload(name)


WORKLOADS: dict[str, Callable[[], Workload]] = {
    "cifar_bnn": cifar_bnn, "tiny": tiny,
    **{name: _zoo_factory(name) for name in zoo.MODELS}}


def binary_macs(cin: int, cout: int, hw: int, k: int = 3) -> int:
    return cin * cout * k * k * hw * hw
