"""The typed op spec at load: every op refuses a bad attribute and a bad array, naming
the node; the size limits and the defects of issue 12 are one-line IRFormatErrors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bnnkit import ir
from bnnkit.errors import IRFormatError
from bnnkit.ir.ops import SPECS
from bnnkit.ir.serialize import dumps, to_json

from .randgraph import INT_OPS, random_graph, tiny_graph

#: Per op: an attribute value the spec refuses, and a fragment of the message.
BAD_ATTRS: dict[str, tuple[str, Any, str]] = {
    "lut": ("scale", 2.0, "unknown attribute 'scale'"),
    "conv_i8": ("stride", [0, 1], "'stride[0]' is 0, expected 1..4096"),
    "bconv": ("pad_mode", "none", "'pad_mode' is 'none', expected one of 'zero', 'one'"),
    "threshold": ("flip", [1], "unknown attribute 'flip'"),
    "bmaxpool": ("padding", [-1, 0, 0, 0], "'padding[0]' is -1, expected 0..64"),
    "maxpool_i8": ("kernel", "3", "'kernel' is str '3', expected a list"),
    "avgpool_i8": ("count_include_pad", 1, "expected true or false"),
    "add_i8": ("scale_out", [1 << 30, 40], "'scale_out[1]' is 40, expected -31..30"),
    "channelwise_i8": ("acc_shift", 17, "'acc_shift' is 17, expected 0..16"),
    "concat_i8": ("rescale", [[1 << 30, 0]], "1 rescale entries for"),
    "concat_bits": ("axis", 3, "unknown attribute 'axis'"),
    "conv_i8_w1": ("groups", 1, "unknown attribute 'groups'"),
    "add_into_i8": ("offset", -1, "'offset' is -1, expected 0..16383"),
    "conv_i8_w2": ("pad_mode", "zero", "unknown attribute 'pad_mode'"),
    "bconv_w2": ("pad_mode", "none", "'pad_mode' is 'none', expected one of 'zero', 'one'"),
    "bconv_k": ("k_shift", 33, "'k_shift' is 33, expected -16..32"),
}


def _node(graph: ir.Graph, op: str) -> ir.Node:
    return next(n for n in graph.nodes if n.op == op)


def _with_node(graph: ir.Graph, new: ir.Node) -> ir.Graph:
    return graph.with_(nodes=tuple(new if n.name == new.name else n for n in graph.nodes))


def _refused(graph: ir.Graph, tmp_path: Path) -> str:
    """Save ``graph`` as it is (save does not validate) and return load's message."""
    d = ir.save(graph, tmp_path / "ir")
    with pytest.raises(IRFormatError) as info:
        ir.load(d)
    message = str(info.value)
    assert "\n" not in message
    return message


def _graph_with(op: str) -> ir.Graph:
    graph = random_graph(7, require=op)
    assert not ir.validate(graph)
    return graph


@pytest.mark.parametrize("op", INT_OPS)
def test_bad_attribute_refused_at_load(op: str, tmp_path: Path) -> None:
    graph = _graph_with(op)
    node = _node(graph, op)
    key, value, expected = BAD_ATTRS[op]
    message = _refused(_with_node(graph, node.with_(attrs={**node.attrs, key: value})),
                       tmp_path)
    assert f"node {node.name} ({op})" in message and expected in message, message


@pytest.mark.parametrize("op", INT_OPS)
def test_bad_array_refused_at_load(op: str, tmp_path: Path) -> None:
    graph = _graph_with(op)
    node = _node(graph, op)
    if node.arrays:  # the first array the node holds, cut to half its values
        role = next(a.role for a in SPECS[op].arrays if a.role in node.arrays)
        half = np.asarray(node.arrays[role]).reshape(-1)
        half = half[: max(1, half.size // 2)] if half.size > 1 else np.zeros(2, half.dtype)
        broken = node.with_(arrays={**node.arrays, role: half})
        expected = f"array {role!r} has shape {half.shape}, expected ("
    else:  # ops without arrays refuse any
        broken = node.with_(arrays={"weight": np.zeros(3, np.int8)})
        expected = "unknown array 'weight' (takes none)"
    message = _refused(_with_node(graph, broken), tmp_path)
    assert f"node {node.name} ({op})" in message and expected in message, message


@pytest.mark.parametrize("op", INT_OPS)
def test_wrong_output_shape_refused_at_load(op: str, tmp_path: Path) -> None:
    graph = _graph_with(op)
    node = _node(graph, op)
    t = graph.tensors[node.outputs[0]]
    wrong = t.__class__(t.name, (1, t.shape[1] + 1, *t.shape[2:]), t.dtype, t.quant)
    message = _refused(graph.with_(tensors={**graph.tensors, t.name: wrong}), tmp_path)
    assert f"node {node.name}" in message or f"tensor {t.name}" in message, message


# -- issue 12: hand-edited IRs that used to crash or build wrong programs -------------------


def _edit(tmp_path: Path, change: Any) -> str:
    """Write tiny_graph's IR with ``change(doc, arrays)`` applied; return load's message."""
    graph = tiny_graph()
    doc = to_json(graph)
    doc = json.loads(json.dumps(doc, default=lambda o: o.tolist()))
    arrays = {f"{n.name}/{k}": v for n in graph.nodes for k, v in n.arrays.items()}
    change(doc, arrays)
    d = tmp_path / "ir"
    d.mkdir()
    (d / "graph.json").write_text(json.dumps(doc))
    np.savez(d / "weights.npz", **arrays)
    with pytest.raises(IRFormatError) as info:
        ir.load(d)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(d)), message
    return message


def _tensor(doc: dict, name: str) -> dict:
    return next(t for t in doc["tensors"] if t["name"] == name)


def _attrs(doc: dict, node: str) -> dict:
    return next(n for n in doc["nodes"] if n["name"] == node)["attrs"]


CASES = {
    "huge input": (lambda d, a: _tensor(d, "image").update(shape=[1, 60000, 60000, 1]),
                   "tensor image: height 60000 exceeds the limit 4096"),
    "padding 1000": (lambda d, a: _attrs(d, "conv1").update(padding=[1000, 1, 1, 1]),
                     "node conv1 (conv_i8): attribute 'padding[0]' is 1000, expected 0..64"),
    "stride 0": (lambda d, a: _attrs(d, "conv2").update(stride=[0, 1]),
                 "node conv2 (bconv): attribute 'stride[0]' is 0, expected 1..4096"),
    "pool window in padding only": (lambda d, a: _attrs(d, "pool2").update(padding=[0, 0, 2, 0]),
                                    "node pool2 (bmaxpool): padding 2 on the height is not "
                                    "smaller than the kernel 2"),
    "negative padding": (lambda d, a: _attrs(d, "pool2").update(padding=[0, -1, 0, 0]),
                         "node pool2 (bmaxpool): attribute 'padding[1]' is -1"),
    "stride as a string": (lambda d, a: _attrs(d, "conv1").update(stride="2"),
                           "node conv1 (conv_i8): attribute 'stride' is str '2', expected a list"),
    "float stride": (lambda d, a: _attrs(d, "conv1").update(stride=[1.0, 1.0]),
                     "attribute 'stride[0]' is float 1.0, expected an integer"),
    "half the weights": (lambda d, a: a.update({"conv2/weight": a["conv2/weight"][:35]}),
                         "node conv2 (bconv): array 'weight' has shape (35, 3, 3, 1), "
                         "expected (70, 3, 3, 1)"),
    "zero point 10^12": (lambda d, a: _tensor(d, "x")["quant"].update(zero_point=10**12),
                         "tensor x: zero point 1000000000000 is outside int8 (-128..127)"),
    "float64 thresholds": (lambda d, a: a.update({"conv2/threshold":
                                                  a["conv2/threshold"].astype(np.float64)}),
                           "node conv2 (bconv): array 'threshold' is <f8 (float64), expected "
                           "int32"),
    "bits beyond the channels": (lambda d, a: a.update({"conv2/weight": a["conv2/weight"]
                                                        | np.uint64(1 << 63)}),
                                 "sets bits beyond channel 8 in the last word"),
    "or_mask of 2": (lambda d, a: a.update({"pool2/or_mask": a["pool2/or_mask"] * 2}),
                     "array 'or_mask' has values 0..2, expected 0..1"),
    "uint8 zero point": (lambda d, a: _tensor(d, "image")["quant"].update(zero_point=-1),
                         "zero point -1 is outside uint8"),
    "infinite scale": (lambda d, a: _tensor(d, "x")["quant"].update(scale=1e300),
                       "tensor x: quantization scale 1e+300 is not a positive float32"),
    "clamp beyond int8": (lambda d, a: _attrs(d, "fc").update(clamp=[-129, 127]),
                          "node fc (bconv): attribute 'clamp[0]' is -129, expected -128..127"),
    "clamp on a bits output": (lambda d, a: _attrs(d, "conv2").update(clamp=[-128, 127]),
                               "attribute 'clamp' applies to int8 output only"),
    "missing acc_shift": (lambda d, a: _attrs(d, "fc").pop("acc_shift"),
                          "node fc (bconv): attribute 'acc_shift' is missing"),
    "renamed npz member": (lambda d, a: a.update({"conv2/weights": a.pop("conv2/weight")}),
                           "node conv2: array 'weight' is missing from weights.npz"),
    "unknown op": (lambda d, a: d["nodes"][1].update(op="conv3d"), "unknown op 'conv3d'"),
    "two inputs": (lambda d, a: d.update(inputs=["image", "x"]), "has 2 inputs"),
    "node written twice": (lambda d, a: d["nodes"][2].update(outputs=["b1"]),
                           "output b1 is written twice"),
    "name with a comment end": (lambda d, a: _tensor(d, "b1").update(name="b1*/"),
                                "tensor 'b1*/': a name is 1 to 128 letters"),
    "no meta": (lambda d, a: d.pop("meta"), "the document has no 'meta'"),
    "torch_shape off": (lambda d, a: d["meta"]["input"].update(torch_shape=[1, 3, 6, 5]),
                        "meta input.torch_shape is [1, 3, 6, 5]"),
    "shape of floats": (lambda d, a: _tensor(d, "b1").update(shape=[1, 5.0, 6, 8]),
                        "tensor b1: shape [1, 5.0, 6, 8] is not a list of integers"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hand_edited_ir_is_refused_at_load(case: str, tmp_path: Path) -> None:
    change, expected = CASES[case]
    message = _edit(tmp_path, change)
    assert expected in message, message


def test_valid_ir_round_trips(tmp_path: Path) -> None:
    graph = tiny_graph()
    loaded = ir.load(ir.save(graph, tmp_path / "ir"))
    assert dumps(loaded) == dumps(graph)
