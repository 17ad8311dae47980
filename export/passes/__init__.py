"""Pure graph -> graph passes of the exporter, in the order the pipeline runs them."""

from .calibrate import calibrate
from .equalize import equalize
from .fold_affine import fold_affine
from .fuse_activation import fuse_activation
from .quantize import quantize
from .reorder_pool import reorder_pool
from .tabulate import tabulate

__all__ = ["calibrate", "equalize", "fold_affine", "fuse_activation", "quantize", "reorder_pool",
           "tabulate"]
