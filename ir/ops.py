"""What each op takes, holds and produces: the spec part of its registry entry (registry.py).

One entry per op: input and output dtypes, the typed attributes
(``attrs.py``), every constant array with its dtype and shape, and how the
output's shape follows from the inputs. ``float`` ops appear only while a
graph is being lowered; ``int`` ops are what the golden model and the C
runtime implement.

Array shapes are written with symbols: ``cin`` / ``cout`` (input / output
channels), ``kh`` / ``kw`` (the kernel, taken from the weight array itself),
``cin/groups`` and ``words(cin/groups)`` (uint64 words of ``cin/groups`` packed bits).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import attrs as A


@dataclass(frozen=True)
class ArraySpec:
    role: str
    dtypes: tuple[str, ...]           # allowed numpy dtypes
    shape: tuple[str | int, ...]      # symbols, see the module docstring
    only: str | None = None           # output dtype that needs it (absent otherwise)
    values: tuple[int, int] | None = None  # bounds of every value
    optional: bool = False
    packed: bool = False              # last axis packs cin/groups bits: unused bits must be 0


@dataclass(frozen=True)
class OpSpec:
    name: str
    level: str                      # "float" or "int"
    inputs: tuple[tuple[str, ...], ...]  # allowed dtypes per input; variadic: one entry
    outputs: tuple[str, ...]        # allowed output dtypes
    attrs: type = A.NoAttrs         # the typed attributes (a frozen dataclass)
    arrays: tuple[ArraySpec, ...] = ()
    geometry: str = "same"          # output shape: "same" as the input, "conv" (kernel
    #                                 from the weight), "window" (kernel attribute), "concat",
    #                                 "add_into" (the first input's; the second fits from offset)
    variadic: bool = False
    same_quant: bool = False        # the output keeps the input's quantization


F, B, I8, U8 = "float32", "bits", "int8", "uint8"
FLOATS = ("float32", "float64")
I32 = ("int32",)
PER_OUT = ("cout",)
REQUANT = (ArraySpec("multiplier", I32, PER_OUT, only=I8),
           ArraySpec("shift", I32, PER_OUT, only=I8, values=(-31, 30)))
THRESHOLD = ArraySpec("threshold", I32, PER_OUT, only=B)
MASK = ("uint8",)
TERNARY_SCALE = (-(1 << 15), 1 << 15)
TERNARY = (ArraySpec("weight", ("uint64",), ("cout", "kh", "kw", "words(cin)"), packed=True),
           ArraySpec("weight_neg", ("uint64",), ("cout", "kh", "kw", "words(cin)"),
                     packed=True),
           ArraySpec("scale_pos", I32, PER_OUT, values=TERNARY_SCALE),
           ArraySpec("scale_neg", I32, PER_OUT, values=TERNARY_SCALE),
           ArraySpec("bias", I32, PER_OUT), *REQUANT, THRESHOLD)

SPECS: dict[str, OpSpec] = {s.name: s for s in (
    # -- float level (export only) --
    OpSpec("conv", "float", ((F, B),), (F,), A.ConvAttrs,
           (ArraySpec("weight", FLOATS, ("cout", "kh", "kw", "cin/groups")),
            ArraySpec("scale", FLOATS, PER_OUT), ArraySpec("shift", FLOATS, PER_OUT)),
           geometry="conv"),
    OpSpec("affine", "float", ((F, B),), (F,), A.NoAttrs,
           (ArraySpec("scale", FLOATS, PER_OUT), ArraySpec("shift", FLOATS, PER_OUT))),
    OpSpec("act", "float", ((F, B),), (F,), A.ClampAttrs,
           (ArraySpec("slope", FLOATS, PER_OUT),)),
    OpSpec("sign", "float", ((F, B),), (B,)),
    OpSpec("maxpool", "float", ((F, B),), (F, B), A.PoolAttrs,
           (ArraySpec("min_mask", MASK, PER_OUT, values=(0, 1), optional=True),),
           geometry="window"),
    OpSpec("avgpool", "float", ((F, B),), (F,), A.AvgPoolAttrs, geometry="window"),
    OpSpec("add", "float", ((F, B), (F, B)), (F,), A.ClampAttrs),
    OpSpec("concat", "float", ((F, B),), (F, B), geometry="concat", variadic=True),
    OpSpec("add_into", "float", ((F,), (F,)), (F,), A.AddIntoAttrs, geometry="add_into"),
    # a binary conv (its bits, then the real-valued x of its K) times XNOR-Net's K
    OpSpec("kconv", "float", ((B,), (F,)), (F,), A.ConvAttrs,
           (ArraySpec("weight", FLOATS, ("cout", "kh", "kw", "cin/groups")),
            ArraySpec("scale", FLOATS, PER_OUT), ArraySpec("shift", FLOATS, PER_OUT)),
           geometry="conv"),
    # -- integer level (golden model, C runtime) --
    OpSpec("lut", "int", ((U8, I8),), (I8,), A.NoAttrs,
           (ArraySpec("table", ("int8",), ("cin", 256)),)),
    OpSpec("conv_i8", "int", ((I8,),), (I8, B), A.ConvI8Attrs,
           (ArraySpec("weight", ("int8",), ("cout", "kh", "kw", "cin/groups")),
            ArraySpec("bias", I32, PER_OUT), *REQUANT, THRESHOLD),
           geometry="conv"),
    OpSpec("bconv", "int", ((B,),), (B, I8), A.BconvAttrs,
           (ArraySpec("weight", ("uint64",), ("cout", "kh", "kw", "words(cin/groups)"),
                     packed=True),
            ArraySpec("bias", I32, PER_OUT, only=I8), *REQUANT, THRESHOLD),
           geometry="conv"),
    OpSpec("conv_i8_w1", "int", ((I8,),), (I8, B), A.ConvI8W1Attrs,
           (ArraySpec("weight", ("uint64",), ("cout", "kh", "kw", "words(cin)"), packed=True),
            ArraySpec("bias", I32, PER_OUT), *REQUANT, THRESHOLD),
           geometry="conv"),
    # ternary weights (TTQ): w = scale_pos[o] where the "weight" plane's bit is set,
    # -scale_neg[o] where "weight_neg"'s is, else 0
    OpSpec("conv_i8_w2", "int", ((I8,),), (I8, B), A.ConvI8W2Attrs, TERNARY,
           geometry="conv"),
    OpSpec("bconv_w2", "int", ((B,),), (I8, B), A.BconvW2Attrs, TERNARY, geometry="conv"),
    OpSpec("threshold", "int", ((I8,),), (B,), A.NoAttrs,
           (ArraySpec("threshold", I32, PER_OUT),
            ArraySpec("flip", MASK, PER_OUT, values=(0, 1)))),
    OpSpec("bmaxpool", "int", ((B,),), (B,), A.PoolAttrs,
           (ArraySpec("or_mask", MASK, PER_OUT, values=(0, 1)),), geometry="window"),
    OpSpec("maxpool_i8", "int", ((I8,),), (I8,), A.PoolAttrs, geometry="window",
           same_quant=True),
    OpSpec("avgpool_i8", "int", ((I8,),), (I8,), A.AvgPoolAttrs, geometry="window",
           same_quant=True),
    OpSpec("add_i8", "int", ((I8,), (I8,)), (I8,), A.AddI8Attrs),
    OpSpec("channelwise_i8", "int", ((I8,),), (I8,), A.ChannelwiseI8Attrs,
           (ArraySpec("bias", I32, PER_OUT),
            ArraySpec("multiplier_pos", I32, PER_OUT),
            ArraySpec("shift_pos", I32, PER_OUT, values=(-31, 30)),
            ArraySpec("multiplier_neg", I32, PER_OUT),
            ArraySpec("shift_neg", I32, PER_OUT, values=(-31, 30)))),
    OpSpec("concat_i8", "int", ((I8,),), (I8,), A.ConcatI8Attrs, geometry="concat",
           variadic=True),
    OpSpec("concat_bits", "int", ((B,),), (B,), geometry="concat", variadic=True),
    OpSpec("add_into_i8", "int", ((I8,), (I8,)), (I8,), A.AddIntoI8Attrs, geometry="add_into"),
    # XNOR-Net's input scaling: bits of x, then x itself (int8, same H, W, C) for K
    OpSpec("bconv_k", "int", ((B,), (I8,)), (I8, B), A.BconvKAttrs,
           (ArraySpec("weight", ("uint64",), ("cout", "kh", "kw", "words(cin/groups)"),
                     packed=True),
            ArraySpec("bias", I32, PER_OUT, only=I8), *REQUANT, THRESHOLD),
           geometry="conv"),
)}

INT_OPS = tuple(name for name, s in SPECS.items() if s.level == "int")
