"""Training layers for binary neural networks."""

from .abc_conv import ABCConv2d
from .binary import BinaryConv2d, BinaryLinear, BinaryWeightConv2d, BinaryWeightLinear
from .int8 import baked, fake_int8_weights
from .int8_activations import FakeInt8, fake_int8
from .sign import DEFAULT_CLIP, Sign, sign
from .ternary import TernaryConv2d, TernaryLinear

__all__ = ["ABCConv2d", "BinaryConv2d", "BinaryLinear", "BinaryWeightConv2d",
           "BinaryWeightLinear", "DEFAULT_CLIP", "FakeInt8", "Sign", "TernaryConv2d",
           "TernaryLinear", "baked", "fake_int8", "fake_int8_weights", "sign"]
