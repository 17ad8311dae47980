"""The op registry: one entry per op, and the one place each stage looks an op up.

An entry gathers what bnnkit knows about an op, each part where its stage
keeps it:

* ``spec``: input and output dtypes, the typed attributes and the constant
  arrays (``ir/ops.py``, ``ir/attrs.py``; checked at ``ir.load``);
* ``golden``: its semantics in numpy (``golden/int_ops.py`` for the integer
  ops, ``golden/float_ops.py`` for the float ops of a graph being lowered);
* ``macs``: the binary and INT8 multiply-accumulates it costs;
* ``lowering`` (integer ops only): the function turning a node into
  parameters for its template, the template, and the C kernels it may call
  (``codegen/lower.py``, ``templates/``, ``cruntime/``);
* ``kind``: its row in the benchmark's per-op-kind breakdown.

How the float ops become integer ops is ``export/passes/quantize.py``'s
``RULES``. ``docs/adding-an-op.md`` lists the files a new op touches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .codegen.lower import (
    OpLowering,
    lower_add_i8,
    lower_add_into_i8,
    lower_avgpool_i8,
    lower_bconv,
    lower_bconv_k,
    lower_bmaxpool,
    lower_channelwise_i8,
    lower_concat_bits,
    lower_concat_i8,
    lower_conv_i8,
    lower_conv_i8_w1,
    lower_lut,
    lower_maxpool_i8,
    lower_ternary_conv,
    lower_threshold,
)
from .golden import float_ops, int_ops
from .ir.graph import Graph, Node, Tensor
from .ir.ops import SPECS, OpSpec

GoldenFn = Callable[[Node, list[np.ndarray], list[Tensor], Tensor], np.ndarray]


@dataclass(frozen=True)
class Macs:
    binary: int = 0
    int8: int = 0


MacsFn = Callable[[Graph, Node], Macs]


def no_macs(graph: Graph, node: Node) -> Macs:
    return Macs()


def bconv_k_macs(graph: Graph, node: Node) -> Macs:
    """The binary conv's MACs, and K's window sums of |x - Z| counted as INT8 MACs:
    output pixels x taps x input channels (once per pixel, not per output channel)."""
    _, oh, ow, _ = graph.tensors[node.outputs[0]].shape
    kh, kw = node.arrays["weight"].shape[1:3]
    k_sums = oh * ow * kh * kw * graph.tensors[node.inputs[1]].channels
    return Macs(binary=conv_macs(graph, node).binary, int8=k_sums)


def conv_macs(graph: Graph, node: Node) -> Macs:
    """Output values x kernel taps x input channels per group; binary iff the input is
    bits (always for bconv, never for conv_i8, either for a float conv)."""
    _, oh, ow, oc = graph.tensors[node.outputs[0]].shape
    kh, kw = node.arrays["weight"].shape[1:3]
    x = graph.tensors[node.inputs[0]]
    macs = oh * ow * oc * kh * kw * (x.channels // int(node.attrs.get("groups", 1)))
    return Macs(binary=macs) if x.dtype == "bits" else Macs(int8=macs)


@dataclass(frozen=True)
class Op:
    spec: OpSpec
    golden: GoldenFn
    macs: MacsFn = no_macs
    lowering: OpLowering | None = None   # integer ops: how the C project runs it
    kind: str = "other"                  # bench/breakdown.py's op kind

    @property
    def name(self) -> str:
        return self.spec.name


def _c(lower: Callable, template: str, *kernels: str) -> OpLowering:
    return OpLowering(lower, template, kernels)


OPS: dict[str, Op] = {op.name: op for op in (
    # -- float level (a graph being lowered; quantize.py's RULES) --
    Op(SPECS["conv"], float_ops.conv, conv_macs),
    Op(SPECS["affine"], float_ops.affine),
    Op(SPECS["act"], float_ops.act),
    Op(SPECS["sign"], float_ops.sign),
    Op(SPECS["maxpool"], float_ops.maxpool),
    Op(SPECS["avgpool"], float_ops.avgpool),
    Op(SPECS["add"], float_ops.add),
    Op(SPECS["concat"], float_ops.concat),
    Op(SPECS["add_into"], float_ops.add_into),
    Op(SPECS["kconv"], float_ops.kconv, bconv_k_macs),
    # -- integer level (golden model, generated C) --
    Op(SPECS["lut"], int_ops.lut, lowering=_c(lower_lut, "lut.c.j2", "bnn_lut_u8")),
    Op(SPECS["conv_i8"], int_ops.conv_i8, conv_macs,
       _c(lower_conv_i8, "conv_i8.c.j2", "bnn_conv_i8_to_i8", "bnn_conv_i8_to_bits"),
       kind="INT8 conv"),
    Op(SPECS["bconv"], int_ops.bconv, conv_macs,
       _c(lower_bconv, "bconv.c.j2", "bnn_bconv_to_bits", "bnn_bconv_to_i8"),
       kind="binary conv"),
    Op(SPECS["conv_i8_w1"], int_ops.conv_i8_w1, conv_macs,
       _c(lower_conv_i8_w1, "conv_i8_w1.c.j2", "bnn_conv_i8_w1_to_i8", "bnn_conv_i8_w1_to_bits"),
       kind="INT8 x 1-bit conv"),
    Op(SPECS["conv_i8_w2"], int_ops.conv_i8_w2, conv_macs,
       _c(lower_ternary_conv, "conv_i8_w2.c.j2", "bnn_conv_i8_w2_to_i8",
          "bnn_conv_i8_w2_to_bits"), kind="ternary conv"),
    Op(SPECS["bconv_w2"], int_ops.bconv_w2, conv_macs,
       _c(lower_ternary_conv, "bconv_w2.c.j2", "bnn_bconv_w2_to_i8", "bnn_bconv_w2_to_bits"),
       kind="ternary conv"),
    Op(SPECS["threshold"], int_ops.threshold,
       lowering=_c(lower_threshold, "threshold.c.j2", "bnn_threshold_i8"), kind="threshold"),
    Op(SPECS["bmaxpool"], int_ops.bmaxpool,
       lowering=_c(lower_bmaxpool, "bmaxpool.c.j2", "bnn_bmaxpool"), kind="pool"),
    Op(SPECS["maxpool_i8"], int_ops.maxpool_i8,
       lowering=_c(lower_maxpool_i8, "maxpool_i8.c.j2", "bnn_maxpool_i8"), kind="pool"),
    Op(SPECS["avgpool_i8"], int_ops.avgpool_i8,
       lowering=_c(lower_avgpool_i8, "avgpool_i8.c.j2", "bnn_avgpool_i8"), kind="pool"),
    Op(SPECS["add_i8"], int_ops.add_i8,
       lowering=_c(lower_add_i8, "add_i8.c.j2", "bnn_add_i8"), kind="add"),
    Op(SPECS["channelwise_i8"], int_ops.channelwise_i8,
       lowering=_c(lower_channelwise_i8, "channelwise_i8.c.j2", "bnn_channelwise_i8")),
    Op(SPECS["concat_i8"], int_ops.concat_i8,
       lowering=_c(lower_concat_i8, "concat_i8.c.j2", "bnn_concat_i8_part"), kind="concat"),
    Op(SPECS["concat_bits"], int_ops.concat_bits,
       lowering=_c(lower_concat_bits, "concat_bits.c.j2", "bnn_concat_bits_part"),
       kind="concat"),
    Op(SPECS["add_into_i8"], int_ops.add_into_i8,
       lowering=_c(lower_add_into_i8, "add_into_i8.c.j2", "bnn_add_into_i8"), kind="add"),
    Op(SPECS["bconv_k"], int_ops.bconv_k, bconv_k_macs,
       _c(lower_bconv_k, "bconv_k.c.j2", "bnn_bconv_k_to_i8", "bnn_bconv_k_to_bits"),
       kind="binary conv"),
)}

#: The ops the generated C runs, in registry order.
LOWERED_OPS = tuple(name for name, op in OPS.items() if op.lowering is not None)


def node_macs(graph: Graph, node: Node) -> Macs:
    return OPS[node.op].macs(graph, node)


def kind_of(op: str) -> str:
    """The benchmark's op kind of ``op``; "other" for an op the registry does not know."""
    entry = OPS.get(op)
    return entry.kind if entry else "other"
