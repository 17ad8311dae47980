"""The onnxruntime INT8 peer: the same network, quantized by onnxruntime.

The plain fp32 network of ``reference.plain_fp32`` is exported with
``torch.onnx.export`` (the TorchScript exporter, opset 17: it needs no
package beyond torch; the dynamo exporter would need onnxscript), then
quantized by onnxruntime's own static quantizer the way its documentation
recommends for CPUs: ``quant_pre_process`` (shape inference and graph
optimization), QDQ format, INT8 weights per output channel, UINT8
activations (U8S8, the fast x86 path), MinMax ranges calibrated on the
same calibration sample bnnkit calibrates on. On x86 without VNNI the U8S8
kernels multiply-add pairs into int16 (``vpmaddubsw``) and saturate: there
``reduce_range`` (7-bit weights) is onnxruntime's documented fix, and is
used (it is also the faster; without it cifar_bnn's outputs differ from
fp32 by most of their range). The session runs 1 thread (intra- and
inter-op) with every graph optimization on.

Binary layers stay convolutions over +-1 values here: onnxruntime has no
binary kernels, so this is what an INT8 engine does with a BNN.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

OPSET = 17
KEY = "onnxruntime_int8"


def export_onnx(model: nn.Module, input_shape: tuple[int, ...], path: Path) -> Path:
    """``model`` (fp32, eval) as an ONNX file at ``path``."""
    x = torch.zeros(input_shape)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        model(x)  # computes the +1 border maps now: the export sees them as constants
        torch.onnx.export(model, (x,), str(path), dynamo=False,
                          opset_version=OPSET, input_names=["input"], output_names=["output"])
    return path


def needs_reduce_range(cpu_flags: set[str]) -> bool:
    """x86 without VNNI: onnxruntime's U8S8 kernels saturate at full range."""
    x86 = "sse2" in cpu_flags
    return x86 and not cpu_flags & {"avx512_vnni", "avx_vnni", "amx_int8"}


def quantize_int8(fp32_path: Path, int8_path: Path, calibration: np.ndarray,
                  reduce_range: bool) -> Path:
    """Static QDQ INT8 quantization, per-channel weights, calibrated on ``calibration``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter([{"input": x[None].astype(np.float32)} for x in calibration])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._batches, None)

    prepared = int8_path.with_name("prepared.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer warns on the root logger about every 1-D weight
    try:
        quant_pre_process(str(fp32_path), str(prepared))
        quantize_static(str(prepared), str(int8_path), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, reduce_range=reduce_range)
    finally:
        root.setLevel(level)
    return int8_path


def ort_callable(model: nn.Module, input_shape: tuple[int, ...], calibration: np.ndarray,
                 x: np.ndarray, cpu_flags: set[str]) -> tuple[Callable[[], object], dict[str, Any]]:
    """A zero-argument closure running one onnxruntime INT8 inference of ``x``,
    and what to report about it (versions, options, agreement with fp32)."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="bnnbench-onnx-") as tmp:
        fp32 = export_onnx(model, input_shape, Path(tmp) / "fp32.onnx")
        reduce_range = needs_reduce_range(cpu_flags)
        int8 = quantize_int8(fp32, Path(tmp) / "int8.onnx", calibration, reduce_range)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])
    feed = {"input": np.ascontiguousarray(x, dtype=np.float32)}
    with torch.inference_mode():
        reference = model(torch.from_numpy(feed["input"])).numpy()
    got = session.run(None, feed)[0]
    info = {
        "onnxruntime": ort.__version__, "opset": OPSET,
        "quantization": "static QDQ, per-channel INT8 weights, UINT8 activations, MinMax "
                        f"calibration on the {len(calibration)} calibration inputs"
                        + (", reduce_range (x86 without VNNI)" if reduce_range else ""),
        "threads": 1,
        "max_abs_diff_vs_fp32": float(np.abs(got - reference).max()),
        "fp32_output_range": float(np.abs(reference).max()),
    }

    def run() -> object:
        return session.run(None, feed)

    return run, info


def onnxruntime_peer(model: nn.Module, input_shape: tuple[int, ...],
                     calibration: np.ndarray | None, x: np.ndarray,
                     cpu_flags: set[str]) -> tuple[Callable[[], object] | None, dict[str, Any]]:
    """The onnxruntime INT8 closure for the bnnkit.nn ``model``, or None and the
    reason it cannot run here (recorded in the report, not an error)."""
    from .reference import plain_fp32

    try:
        import onnxruntime  # noqa: F401
        import onnxruntime.quantization  # noqa: F401 - needs the onnx package too
    except ImportError as e:
        return None, {"not_run": f"{e.name} is not installed (pip install 'bnnkit[bench]')"}
    if calibration is None:
        return None, {"not_run": "needs the bnnkit.nn model and its calibration sample "
                                 "(built-in workloads); a model file holds a traced program"}
    try:
        return ort_callable(plain_fp32(model), input_shape, np.asarray(calibration), x,
                            cpu_flags)
    except Exception as e:  # noqa: BLE001 - a peer that cannot run is reported, not fatal
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return None, {"not_run": f"ONNX export or quantization failed: {first}"}
