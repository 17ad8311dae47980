"""bnnkit's graph IR: tensors, nodes, the op registry and the on-disk format."""

from .graph import Graph, Node, Quant, Tensor
from .serialize import FORMAT, VERSION, graph_hash, load, save, validate

__all__ = ["FORMAT", "VERSION", "Graph", "Node", "Quant", "Tensor", "graph_hash", "load",
           "save", "validate"]
