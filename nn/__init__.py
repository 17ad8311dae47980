"""Training layers for binary neural networks."""

from .binary import BinaryConv2d, BinaryLinear
from .sign import DEFAULT_CLIP, Sign, sign

__all__ = ["BinaryConv2d", "BinaryLinear", "DEFAULT_CLIP", "Sign", "sign"]
