"""Training layers for binary neural networks."""

from .abc_conv import ABCConv2d
from .binary import BinaryConv2d, BinaryLinear, BinaryWeightConv2d, BinaryWeightLinear
from .int8 import baked, fake_int8_weights
from .sign import DEFAULT_CLIP, Sign, sign
from .ternary import TernaryConv2d, TernaryLinear

__all__ = ["ABCConv2d", "BinaryConv2d", "BinaryLinear", "BinaryWeightConv2d",
           "BinaryWeightLinear", "DEFAULT_CLIP", "Sign", "TernaryConv2d", "TernaryLinear",
           "baked", "fake_int8_weights", "sign"]
