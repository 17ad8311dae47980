"""The op registry: what each op takes and holds, for validation and codegen.

One entry per op. ``float`` ops appear only while a graph is being lowered;
``int`` ops are what the golden model and the C runtime implement.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_ATTRS = ("kernel", "stride", "padding")


@dataclass(frozen=True)
class OpSpec:
    name: str
    level: str                      # "float" or "int"
    inputs: tuple[tuple[str, ...], ...]  # allowed dtypes per input; () entry = variadic
    outputs: tuple[str, ...]        # allowed output dtypes
    attrs: tuple[str, ...] = ()
    arrays: tuple[str, ...] = ()
    int8_arrays: tuple[str, ...] = ()  # required only when the output is int8
    bits_arrays: tuple[str, ...] = ()  # required only when the output is bits
    int8_attrs: tuple[str, ...] = ()
    variadic: bool = False


F, B, I8, U8 = "float32", "bits", "int8", "uint8"
REQUANT = ("multiplier", "shift")

SPECS: dict[str, OpSpec] = {s.name: s for s in (
    # -- float level (export only) --
    OpSpec("conv", "float", ((F, B),), (F,),
           ("stride", "padding", "pad_value", "groups"), ("weight", "scale", "shift")),
    OpSpec("affine", "float", ((F, B),), (F,), (), ("scale", "shift")),
    OpSpec("act", "float", ((F, B),), (F,), (), ("slope",)),
    OpSpec("sign", "float", ((F, B),), (B,)),
    OpSpec("maxpool", "float", ((F, B),), (F, B), WINDOW_ATTRS),
    OpSpec("avgpool", "float", ((F, B),), (F,), WINDOW_ATTRS + ("count_include_pad",)),
    OpSpec("add", "float", ((F, B), (F, B)), (F,)),
    OpSpec("concat", "float", ((F, B),), (F, B), variadic=True),
    # -- integer level (golden model, C runtime) --
    OpSpec("lut", "int", ((U8,),), (I8,), (), ("table",)),
    OpSpec("conv_i8", "int", ((I8,),), (I8, B), ("stride", "padding", "groups"),
           ("weight", "bias"), int8_arrays=REQUANT, bits_arrays=("threshold",),
           int8_attrs=("clamp",)),
    OpSpec("bconv", "int", ((B,),), (B, I8), ("stride", "padding", "pad_mode"),
           ("weight",), int8_arrays=("bias",) + REQUANT, bits_arrays=("threshold",),
           int8_attrs=("clamp", "acc_shift")),
    OpSpec("threshold", "int", ((I8,),), (B,), (), ("threshold", "flip")),
    OpSpec("bmaxpool", "int", ((B,),), (B,), WINDOW_ATTRS, ("or_mask",)),
    OpSpec("maxpool_i8", "int", ((I8,),), (I8,), WINDOW_ATTRS),
    OpSpec("avgpool_i8", "int", ((I8,),), (I8,), WINDOW_ATTRS + ("count_include_pad",)),
    OpSpec("add_i8", "int", ((I8,), (I8,)), (I8,), ("scale_a", "scale_b", "scale_out", "clamp")),
    OpSpec("channelwise_i8", "int", ((I8,),), (I8,), ("acc_shift", "clamp"),
           ("bias", "multiplier_pos", "shift_pos", "multiplier_neg", "shift_neg")),
    OpSpec("concat_i8", "int", ((I8,),), (I8,), ("rescale",), variadic=True),
    OpSpec("concat_bits", "int", ((B,),), (B,), variadic=True),
)}

INT_OPS = tuple(name for name, s in SPECS.items() if s.level == "int")
