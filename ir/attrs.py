"""Typed, frozen attributes of every op: the one statement of what each may hold.

A node stores its attributes as a plain mapping (that is what graph.json
holds and what the passes build); ``parse`` checks such a mapping against its
op's dataclass and returns the typed value, or raises ``AttrError`` saying
which attribute is wrong and what it should be. Fields whose default is
``None`` exist only for one output dtype (``output_stage`` below): required
then, refused otherwise.

Integers are Python or numpy integers, never bools or floats; integer
bounds are stated with ``Range`` on the type.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

import numpy as np

from .limits import MAX_CHANNELS, MAX_DIM, MAX_PAD

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class AttrError(ValueError):
    """An attribute mapping does not match its op's dataclass."""


@dataclass(frozen=True)
class Range:
    lo: int
    hi: int


Size = Annotated[int, Range(1, MAX_DIM)]
Pad = Annotated[int, Range(0, MAX_PAD)]
Kernel = tuple[Size, Size]
Stride = tuple[Size, Size]
Padding = tuple[Pad, Pad, Pad, Pad]     # top, left, bottom, right
Int8 = Annotated[int, Range(-128, 127)]
Clamp = tuple[Int8, Int8]               # lo, hi of the int8 output
Int32 = Annotated[int, Range(INT32_MIN, INT32_MAX)]
Shift = Annotated[int, Range(-31, 30)]  # the range quantize_multiplier gives
Requant = tuple[Int32, Shift]           # Q31 multiplier, shift
AccShift = Annotated[int, Range(0, 16)]  # the range the exporter chooses
Groups = Annotated[int, Range(1, MAX_CHANNELS)]
Channel = Annotated[int, Range(0, MAX_CHANNELS - 1)]  # a channel index
PadMode = Literal["zero", "one"]        # padded taps are -> +1 ("one") or 0 ("zero")
FloatBound = float | None


def output_stage(dtype: str) -> dict[str, Any]:
    """Field metadata: the field exists only when the node's output is ``dtype``."""
    return {"only": dtype}


def _int8_only() -> Any:
    return field(default=None, metadata=output_stage("int8"))


# -- integer level (golden model, C runtime) ----------------------------------------------


@dataclass(frozen=True)
class NoAttrs:
    """lut, threshold, concat_bits: everything is in the arrays and tensors."""


@dataclass(frozen=True)
class ConvI8Attrs:
    stride: Stride
    padding: Padding
    groups: Groups
    clamp: Clamp | None = _int8_only()


@dataclass(frozen=True)
class BconvAttrs:
    stride: Stride
    padding: Padding
    pad_mode: PadMode
    acc_shift: AccShift | None = _int8_only()
    clamp: Clamp | None = _int8_only()
    # grouped and dilated binary convs; absent from plain ones' graphs
    groups: Groups = 1
    dilation: Stride = (1, 1)


@dataclass(frozen=True)
class ConvI8W1Attrs:
    """conv_i8_w1: int8 activations, 1-bit weights (BinaryConnect, BWN); zero padding."""

    stride: Stride
    padding: Padding
    clamp: Clamp | None = _int8_only()


@dataclass(frozen=True)
class ConvI8W2Attrs:
    """conv_i8_w2: int8 activations, ternary weights (TTQ); zero padding."""

    stride: Stride
    padding: Padding
    clamp: Clamp | None = _int8_only()


@dataclass(frozen=True)
class BconvW2Attrs:
    """bconv_w2: binary activations, ternary weights (TTQ); padded taps per pad_mode."""

    stride: Stride
    padding: Padding
    pad_mode: PadMode
    clamp: Clamp | None = _int8_only()


@dataclass(frozen=True)
class PoolAttrs:
    kernel: Kernel
    stride: Stride
    padding: Padding


@dataclass(frozen=True)
class AvgPoolAttrs:
    kernel: Kernel
    stride: Stride
    padding: Padding
    count_include_pad: bool


@dataclass(frozen=True)
class AddI8Attrs:
    scale_a: Requant
    scale_b: Requant
    scale_out: Requant
    clamp: Clamp


@dataclass(frozen=True)
class ChannelwiseI8Attrs:
    acc_shift: AccShift
    clamp: Clamp


@dataclass(frozen=True)
class ConcatI8Attrs:
    rescale: tuple[Requant, ...]   # one per input


@dataclass(frozen=True)
class AddIntoI8Attrs:
    """add_i8 of the second input into channels [offset, offset + its channels) of the
    first; the first input's other channels are rescaled to the output (``rescale``)."""

    offset: Channel
    scale_a: Requant
    scale_b: Requant
    scale_out: Requant
    clamp: Clamp
    rescale: Requant


KShift = Annotated[int, Range(-16, 32)]  # bconv_k: > 0 rounds right, < 0 shifts left


@dataclass(frozen=True)
class BconvKAttrs:
    """bconv_k (XNOR-Net's input scaling): a binary conv whose y is multiplied by the
    window's sum of |x - Z| over channels and taps, the product shifted by ``k_shift``
    (rounding half away from zero) before the output stage (int8, or bits by threshold)."""

    stride: Stride
    padding: Padding
    pad_mode: PadMode
    k_shift: KShift
    clamp: Clamp | None = _int8_only()
    groups: Groups = 1
    dilation: Stride = (1, 1)


# -- float level (graphs being lowered) -----------------------------------------------------


@dataclass(frozen=True)
class ConvAttrs:
    stride: Stride
    padding: Padding
    pad_value: float
    groups: Groups
    clamp: tuple[FloatBound, FloatBound] | None = None
    dilation: Stride = (1, 1)  # absent from undilated convs' graphs


@dataclass(frozen=True)
class AddIntoAttrs:
    """add_into: the second input is added into the first's channels from ``offset``."""

    offset: Channel


@dataclass(frozen=True)
class ClampAttrs:
    """act, add: an optional clamp fused from a following activation."""

    clamp: tuple[FloatBound, FloatBound] | None = None


# -- parsing ------------------------------------------------------------------------------


def parse(cls: type, attrs: Any, out_dtype: str) -> Any:
    """``attrs`` (a mapping) as an instance of the dataclass ``cls``, or ``AttrError``."""
    if not isinstance(attrs, Mapping):
        raise AttrError(f"attributes are {type(attrs).__name__}, expected a mapping")
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(str(k) for k in attrs if k not in fields)
    if unknown:
        raise AttrError(f"unknown attribute {unknown[0]!r} (takes "
                        f"{', '.join(fields) or 'none'})")
    values = {}
    for name, f in fields.items():
        only = f.metadata.get("only")
        applies = only is None or only == out_dtype
        if name not in attrs:
            if applies and f.default is dataclasses.MISSING:
                raise AttrError(f"attribute {name!r} is missing")
            if applies and only is not None:
                raise AttrError(f"attribute {name!r} is missing (needed for {only} output)")
            continue
        if not applies:
            raise AttrError(f"attribute {name!r} applies to {only} output only, the output "
                            f"is {out_dtype}")
        values[name] = _convert(attrs[name], hints[name], name)
    return cls(**values)


def _convert(value: Any, hint: Any, what: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        out = _convert(value, args[0], what)
        for bound in args[1:]:
            if isinstance(bound, Range) and not bound.lo <= out <= bound.hi:
                raise AttrError(f"attribute {what!r} is {out}, expected {bound.lo}..{bound.hi}")
        return out
    if origin is Literal:
        if not isinstance(value, str) or value not in args:
            raise AttrError(f"attribute {what!r} is {value!r}, expected one of "
                            f"{', '.join(repr(a) for a in args)}")
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = (a for a in args if a is not type(None))
        return _convert(value, inner, what)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise AttrError(f"attribute {what!r} is {_show(value)}, expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{what}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise AttrError(f"attribute {what!r} has {len(value)} entries, expected "
                            f"{len(args)}")
        return tuple(_convert(v, a, f"{what}[{i}]")
                     for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if hint is bool:
        if not isinstance(value, bool | np.bool_):
            raise AttrError(f"attribute {what!r} is {_show(value)}, expected true or false")
        return bool(value)
    if hint is int:
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            raise AttrError(f"attribute {what!r} is {_show(value)}, expected an integer")
        return int(value)
    if hint is float:
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number) \
                or not math.isfinite(float(value)):
            raise AttrError(f"attribute {what!r} is {_show(value)}, expected a finite number")
        return float(value)
    raise TypeError(f"attrs.py has no conversion for {hint!r}")  # a bug in this module


def brief(value: Any) -> str:
    """``repr`` cut to 40 characters, for messages about values read from a file."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _show(value: Any) -> str:
    return f"{type(value).__name__} {brief(value)}"
