"""bnn-bench on a tiny workload with the real tools: structure and sanity, not speed.

Host timing (generated C vs PyTorch), the qemu instruction-count plugin under
both ARM targets, the table, the JSON. Speed itself is never asserted here:
the benchmark reports it.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
from pathlib import Path

import pytest

from bnnkit.bench import insns
from bnnkit.cli.bench_cmd import main
from bnnkit.errors import ToolchainError

from .tooling import need, unavailable


def _arm_ready() -> str | None:
    for tool in ("qemu-aarch64", "qemu-arm", "aarch64-linux-gnu-gcc", "arm-linux-gnueabihf-gcc"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    try:
        insns.find_plugin()
    except ToolchainError as e:
        return str(e)
    return None


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    reason = _arm_ready()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("bench") / "tiny.json"
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["--workload", "tiny", "--host-runs", "10", "--rounds", "2", "-q",
                     "--json", str(out), "--plot", str(out.with_suffix(".png"))])
    assert code == 0
    return json.loads(out.read_text()), buf.getvalue(), out


def test_json_structure(tiny_report: tuple[dict, str, Path]) -> None:
    report, _, _ = tiny_report
    assert report["format"] == "bnnkit-bench"
    assert report["workload"] == "tiny"
    for key in ("date", "machine", "layers", "binary_layers", "host", "arm"):
        assert key in report
    assert len(report["binary_layers"]) == 3
    assert report["binary_conv_macs"] == sum(report["layers"][i]["binary_macs"]
                                             for i in report["binary_layers"])
    assert report["host"]["selftest"].startswith("selftest: 3 of 3")
    assert "-O" in report["host"]["compile"]


def test_host_ratio_is_a_positive_float(tiny_report: tuple[dict, str, Path]) -> None:
    host = tiny_report[0]["host"]
    assert host["bnnkit_ms"]["median"] > 0
    assert host["bnnkit_ms"]["p90"] >= host["bnnkit_ms"]["median"]
    assert set(host["pytorch_ms"]) == {"eager", "fp32"}
    for ratio in host["speedup"].values():
        assert isinstance(ratio, float) and ratio > 0 and math.isfinite(ratio)
    assert len(host["bnnkit_layers_ms"]) == len(tiny_report[0]["layers"])


def test_instruction_counts_scale_with_macs(tiny_report: tuple[dict, str, Path]) -> None:
    report = tiny_report[0]
    first, second, _ = report["binary_layers"]
    assert report["layers"][second]["binary_macs"] == 2 * report["layers"][first]["binary_macs"]
    for target in ("armv8", "armv7"):
        t = report["arm"]["targets"][target]
        counts = {int(k): v for k, v in t["per_node"].items()}
        assert all(v > 0 for v in counts.values())
        assert counts[second] > counts[first]  # 2x the MACs costs more
        assert t["whole_inference"] > t["binary_conv_total"] == sum(counts.values())
        assert t["qemu"] and t["compile"]
    # 32-bit ARM has half the vector registers and no 64-bit popcount
    assert (report["arm"]["targets"]["armv7"]["binary_conv_total"]
            > report["arm"]["targets"]["armv8"]["binary_conv_total"])


def test_table_printed(tiny_report: tuple[dict, str, Path]) -> None:
    text = tiny_report[1]
    assert "aarch64 insns" in text and "armv7 insns" in text
    assert "bnnkit C" in text and "PyTorch fp32" in text


def test_mca_cycles_of_every_kernel(tiny_report: tuple[dict, str, Path]) -> None:
    from bnnkit.bench import mca
    need("llvm-mca", "llvm")
    kernels = tiny_report[0]["arm"]["targets"]["armv8"]["mca"]["kernels"]
    found = {(k["shape"], k["output"]) for k in kernels}
    # every window shape with bit output; runs also as strip rows and int8
    assert {(shape, "bits") for shape, _ in mca.SHAPES} <= found
    assert {(s, o) for s, _ in mca.SHAPES if s.startswith("run")
            for o, _ in mca.OUTPUTS} <= found
    # and the tiles the export generated for the model's window shapes, both outputs
    assert {o for s, o in found if s.startswith("gen ")} == {"bits", "int8 / counts"}
    for k in kernels:
        a53, a72, a76 = (k["cycles"][c] for c in mca.CORES)
        assert 1.0 < a72 <= a53 and 1.0 < a76 <= a53  # the in-order core is the slow one
    assert "aarch64 kernel" in tiny_report[1]
    # armv7: its generated tiles on the one core llvm-mca models in armv7 mode
    kernels = tiny_report[0]["arm"]["targets"]["armv7"]["mca"]["kernels"]
    assert {o for k in kernels if k["shape"].startswith("gen ") for o in [k["output"]]} == {
        "bits", "int8 / counts"}
    assert all(list(k["cycles"]) == ["cortex-a72"] and k["cycles"]["cortex-a72"] > 1.0
               for k in kernels)
    assert "armv7 kernel" in tiny_report[1]


def test_differential_count_is_exact(tiny_report: tuple[dict, str, Path],
                                     tmp_path: Path) -> None:
    """The same node counted with other repetition counts gives the same number."""
    import torch

    from bnnkit.bench.workloads import tiny
    from bnnkit.codegen import write_project
    from bnnkit.export.pipeline import export

    wl = tiny()
    graph = export(wl.model, torch.zeros(wl.input_shape), wl.calibration)
    project = tmp_path / "p"
    write_project(graph, project, name="tiny")
    driver = insns.build_driver(project, "tiny", "armv8", tmp_path)
    plugin = insns.find_plugin()
    node = tiny_report[0]["binary_layers"][0]
    assert insns.count_node(driver, plugin, node, 2, 5) == \
        tiny_report[0]["arm"]["targets"]["armv8"]["per_node"][str(node)]


def test_missing_plugin_is_one_clear_line(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--workload", "tiny", "--no-host", "--plugin", str(tmp_path / "nope.so")])
    err = capsys.readouterr().err
    assert code == 5
    assert err.count("\n") == 1 and "plugin not found" in err and "--no-arm" in err


def test_bad_targets_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--targets", "armv9"])
    assert "armv8 and/or armv7" in capsys.readouterr().err


@pytest.mark.parametrize("pad_value,scale,stride,kernel", [
    (1.0, None, 1, 3), (0.0, "xnor", 1, 3), (1.0, "xnor", 1, 3), (1.0, None, 2, 3),
    (1.0, None, 2, 5)])
def test_plain_fp32_peer_computes_the_same_model(pad_value: float, scale: str | None,
                                                  stride: int, kernel: int) -> None:
    """The PyTorch peer in the benchmark must be the same network, not a faster wrong one
    (the +1 padding as a border map: strided, 5x5, and for a second input size)."""
    import torch

    from bnnkit.bench.reference import plain_fp32

    from . import models
    torch.manual_seed(0)
    model = models.randomize_batchnorm(models.classic(
        pad_value=pad_value, scale=scale, stride=stride, kernel=kernel)).eval()
    x = torch.randn(8, 3, 12, 10)
    plain = plain_fp32(model)
    assert [type(m).__name__ for m in plain.children() if "Binary" in type(m).__name__] == \
        ["PlainBinaryConv2d", "PlainBinaryConv2d", "PlainBinaryLinear"]
    with torch.no_grad():
        torch.testing.assert_close(plain(x), model(x), rtol=1e-5, atol=1e-4)
        body, other = plain[:-3], torch.randn(2, 3, 9, 13)  # the head is sized for 12x10
        torch.testing.assert_close(body(other), model[:-3](other), rtol=1e-5, atol=1e-4)


def test_onnxruntime_int8_peer_in_the_same_run(tiny_report: tuple[dict, str, Path]) -> None:
    report, text, _ = tiny_report
    host = report["host"]
    reason = host["onnxruntime"].get("not_run", "")
    if "not installed" in reason:  # setup.sh installs the bench extras
        unavailable(reason)
    assert not reason
    assert host["onnxruntime_int8_ms"]["median"] > 0
    assert host["onnxruntime_int8_ms"]["samples"] == host["pytorch_ms"]["fp32"]["samples"]
    assert math.isfinite(host["speedup"]["onnxruntime_int8"])
    assert "per-channel INT8 weights" in host["onnxruntime"]["quantization"]
    assert math.isfinite(host["onnxruntime"]["max_abs_diff_vs_fp32"])
    assert "onnxruntime INT8 (QDQ)" in text


def test_cpu_and_kernel_recorded(tiny_report: tuple[dict, str, Path]) -> None:
    """The JSON names the CPU, its flags, and the binary-conv path the host build
    chose for them (-march=native)."""
    import platform

    report = tiny_report[0]
    flags = set(report["machine"]["cpu_flags"])
    kernel = report["host"]["x86_kernel"]
    assert report["machine"]["cpu"]
    if platform.machine() != "x86_64":
        assert kernel is None
    elif {"avx512f", "avx512_vpopcntdq"} <= flags:
        assert kernel == "avx512-vpopcntdq"
    elif "avx2" in flags:
        assert kernel == "avx2"
    else:
        assert kernel == ("popcnt" if "popcnt" in flags else "portable")


def test_plot_written(tiny_report: tuple[dict, str, Path]) -> None:
    """--plot writes a real PNG (matplotlib is in the bench extras setup.sh installs)."""
    png = tiny_report[2].with_suffix(".png")
    if importlib.util.find_spec("matplotlib") is None:
        unavailable("matplotlib not installed: pip install '.[bench]' (setup.sh does)")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_floor_counts_binary_and_int8_macs() -> None:
    from bnnkit.bench.plot import floor_insns

    assert floor_insns({"binary_macs": 128 * 1000, "int8_macs": 8 * 10}) == 3000 + 10


def test_reduce_range_only_where_u8s8_saturates() -> None:
    from bnnkit.bench.onnx_peer import needs_reduce_range

    assert needs_reduce_range({"sse2", "avx2", "popcnt"})  # this kind of AMD EPYC
    assert not needs_reduce_range({"sse2", "avx2", "avx512f", "avx512_vnni"})
    assert not needs_reduce_range({"sse2", "avx2", "avx_vnni"})
    assert not needs_reduce_range({"fp", "asimd", "asimddp"})  # aarch64: no x86 kernels


def test_onnxruntime_peer_not_run_is_reported_not_raised() -> None:
    import numpy as np

    from bnnkit.bench.onnx_peer import onnxruntime_peer
    from bnnkit.bench.workloads import tiny

    wl = tiny()
    fn, info = onnxruntime_peer(wl.model, wl.input_shape, None,
                                np.zeros(wl.input_shape, np.float32), set())
    assert fn is None and "calibration" in info["not_run"]


def test_breakdown_adds_up(tiny_report: tuple[dict, str, Path]) -> None:
    """The per-kind counts cover the inference: binary convs as the per-layer counts
    say, all kinds together the whole inference (each counted on its own)."""
    from bnnkit.bench.breakdown import kind_of
    report = tiny_report[0]
    kinds = {kind_of(layer["op"]) for layer in report["layers"]}
    assert {"binary conv", "INT8 conv", "pool"} <= kinds
    for target in ("armv8", "armv7"):
        t = report["arm"]["targets"][target]
        assert t["by_kind"]["binary conv"] == sum(t["per_node"].values())
        assert set(t["by_kind"]) == kinds
        assert sum(t["by_kind"].values()) == pytest.approx(t["whole_inference"], rel=1e-3)
    assert report["floor_insns"] == report["binary_macs"] * 3 / 128 + report["int8_macs"] / 8
    assert "x floor" in tiny_report[1] and "Pi 4 estimate" in tiny_report[1]
    pi4 = report["pi4_estimate"]
    assert pi4["lce_ms"] is None and "assumed" in pi4["assumption"]
    assert pi4["ms"] == pytest.approx(report["arm"]["targets"]["armv8"]["whole_inference"]
                                      / 1.5e9 / 1.5 * 1e3)


def test_every_workload_is_offered() -> None:
    from bnnkit import zoo
    from bnnkit.bench.workloads import LCE_PI4_MS, WORKLOADS
    from bnnkit.cli.bench_cmd import WORKLOAD_NAMES
    assert WORKLOAD_NAMES == tuple(WORKLOADS)
    assert set(zoo.MODELS) <= set(WORKLOADS) and set(LCE_PI4_MS) <= set(zoo.MODELS)


def test_every_op_has_a_kind() -> None:
    from bnnkit.bench.breakdown import KINDS
    from bnnkit.ir.ops import INT_OPS
    from bnnkit.registry import OPS
    kind_of_op = {name: op.kind for name, op in OPS.items() if op.kind != "other"}
    assert set(kind_of_op) <= set(INT_OPS) and set(kind_of_op.values()) <= set(KINDS)
    assert {op for op in INT_OPS if op not in kind_of_op} == {"lut", "channelwise_i8"}


def test_zoo_workloads_are_counted_per_kind_only() -> None:
    """224x224 models are counted in 2 qemu runs per op kind, not 2 per binary layer."""
    from bnnkit import zoo
    from bnnkit.bench.workloads import WORKLOADS
    wl = WORKLOADS["bireal_net18"]()
    assert wl.input_shape == (1, 3, zoo.RESOLUTION, zoo.RESOLUTION) and not wl.per_layer
    assert WORKLOADS["cifar_bnn"]().per_layer


def test_threads_section(tiny_report: tuple[dict, str, Path]) -> None:
    """Per target and thread count: each thread's instructions, the busiest below one
    thread's (the work is shared); the host's 1 vs 2 thread times from the same run."""
    report, text, _ = tiny_report
    for target in ("armv8", "armv7"):
        counts = report["arm"]["targets"][target]["threads"]["counts"]
        assert sorted(counts, key=int) == ["1", "2", "4"]
        assert counts["1"]["busiest_over_single"] == 1.0
        for n in ("2", "4"):
            assert len(counts[n]["per_thread"]) == int(n)
            assert all(v > 0 for v in counts[n]["per_thread"])
            assert counts[n]["busiest_over_single"] < 1.0
    assert set(report["host"]["threads_ms"]) == {"1", "2"}
    assert "aarch64 busiest / 1 thread" in text
