"""The golden model: the executable specification every C kernel must match."""

from .interpreter import dequantize, execute, quantize, quantize_input, run, run_int

__all__ = ["dequantize", "execute", "quantize", "quantize_input", "run", "run_int"]
