"""Exported PyTorch models in C equal the golden model byte for byte.

The whole pipeline: bnnkit.nn model -> export -> C project -> host (cffi),
generic, armv8 and armv7 (static programs under qemu-user). The projects'
--selftest vectors are real model inputs run through the golden model.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bnnkit
from bnnkit import golden
from bnnkit.codegen import write_project
from bnnkit.runtime import CModel

from . import models, shared_runtime
from .randgraph import need_target, run_program  # noqa: E402
from .test_export_binary import binary_stack, pm1

CROSS = ("generic", "armv8", "armv7")


def _project(model: torch.nn.Module, x: torch.Tensor, where: Path, name: str) -> tuple:
    graph = bnnkit.export(model, x[:1], calibration=x)
    vectors = golden.quantize_input(graph, x[:4].numpy())
    summary = write_project(graph, where / name, name=name, test_vectors=vectors)
    return graph, summary.directory


def _check_host(graph, directory: Path, x: torch.Tensor, cache: Path) -> None:  # noqa: ANN001
    q = golden.quantize_input(graph, x.numpy())
    got = CModel(directory, library=shared_runtime.host_library(directory, cache)).run_int(q)
    np.testing.assert_array_equal(got, golden.run_int(graph, q))


def _check_targets(directory: Path, cache: Path) -> None:
    for target in CROSS:
        need_target(target)
    with ThreadPoolExecutor(2) as pool:
        programs = dict(zip(CROSS, pool.map(lambda t: shared_runtime.program(directory, t, cache),
                                            CROSS), strict=True))
    for target, program in programs.items():
        result = run_program(target, program, "--selftest")
        assert result.returncode == 0, f"{target}: {result.stdout}{result.stderr}"


ZOO = {
    "bireal": (lambda: models.bireal(width=16, pad_value=0.0), (3, 16, 16)),
    "bireal_one_pad": (lambda: models.bireal(width=24, pad_value=1.0), (3, 14, 18)),
    "dense": (lambda: models.dense(growth=40), (3, 9, 11)),
    "classic130": (lambda: models.classic(width=130, stride=2, kernel=5), (3, 12, 10)),
    "pool_negative_bn": (models.pool_then_negative_batchnorm, (3, 9, 8)),
    "melius_cat": (lambda: models.melius(cat_form=True), (3, 16, 18)),
    "abc": (models.abc, (3, 9, 11)),
    "ttq": (models.ttq, (3, 10, 9)),
}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_model_zoo_on_every_target(name: str, tmp_path: Path, runtime_cache: Path) -> None:
    torch.manual_seed(0)
    build_model, shape = ZOO[name]
    model = models.randomize_batchnorm(build_model(), zero=True)
    x = torch.randn(24, *shape)
    graph, directory = _project(model, x, tmp_path, name)
    _check_host(graph, directory, x, runtime_cache)
    _check_targets(directory, runtime_cache)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(cin=st.integers(1, 300), width=st.integers(1, 300), kernel=st.sampled_from([1, 3, 5]),
       stride=st.sampled_from([1, 2]), padding=st.integers(0, 2),
       pad_value=st.sampled_from([0.0, 1.0]), scale=st.sampled_from([None, "xnor"]),
       h=st.integers(5, 11), w=st.integers(5, 11), pool=st.booleans(), seed=st.integers(0, 99))
def test_random_binary_models_on_every_target(tmp_path_factory: pytest.TempPathFactory,
                                              runtime_cache: Path, cin: int,
                                              width: int, kernel: int, stride: int,
                                              padding: int, pad_value: float, scale: str | None,
                                              h: int, w: int, pool: bool, seed: int) -> None:
    torch.manual_seed(seed)
    model = models.randomize_batchnorm(
        binary_stack(cin, width, kernel, stride, padding, pad_value, scale, (h, w), pool),
        seed=seed, zero=True)
    x = pm1(16, cin, h, w, seed)
    graph, directory = _project(model, x, tmp_path_factory.mktemp("rand"), "rand")
    _check_host(graph, directory, x, runtime_cache)
    _check_targets(directory, runtime_cache)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(cin=st.integers(1, 40), width=st.integers(1, 40), kernel=st.sampled_from([1, 3]),
       stride=st.sampled_from([1, 2]), padding=st.integers(0, 1), h=st.integers(3, 9),
       w=st.integers(3, 9), seed=st.integers(0, 99))
def test_random_ternary_int8_models_on_every_target(tmp_path_factory: pytest.TempPathFactory,
                                                    runtime_cache: Path, cin: int, width: int,
                                                    kernel: int, stride: int, padding: int,
                                                    h: int, w: int, seed: int) -> None:
    """conv_i8_w2 (INT8 x ternary) of any channel count, stride and zero padding, then
    another on its ReLU: the masked-sum NEON tile against the golden model."""
    from bnnkit.nn import TernaryConv2d
    torch.manual_seed(seed)
    model = models.randomize_batchnorm(torch.nn.Sequential(
        TernaryConv2d(cin, width, kernel, stride, padding), torch.nn.BatchNorm2d(width),
        torch.nn.ReLU(), TernaryConv2d(width, 5, 3, 1, 1)),
        seed=seed, zero=True)
    x = torch.randn(16, cin, h, w)
    graph, directory = _project(model, x, tmp_path_factory.mktemp("ttq"), "ttq")
    _check_host(graph, directory, x, runtime_cache)
    _check_targets(directory, runtime_cache)


def test_bundled_example_end_to_end(tmp_path: Path) -> None:
    example = Path(__file__).parents[1] / "examples"
    data = np.load(example / "digits_test.npz")
    graph = bnnkit.export(example / "digits_bnn.pt")
    summary = write_project(graph, tmp_path / "digits", name="digits")
    model = CModel(summary.directory)
    pred = model(data["images"]).argmax(1)
    np.testing.assert_array_equal(pred, golden.run(graph, data["images"]).argmax(1))
    assert np.mean(pred == data["labels"]) > 0.9
