"""Size limits an IR must stay within to be loaded: what a Raspberry Pi could ever run.

Each bound is far above any network bnnkit exports and far below what makes
the golden model (numpy on the PC, which holds a tensor as float64 or int64,
8 bytes a value) or the static arena of the generated C fail. A graph over
a bound is refused at load with the number, instead of dying later in a
MemoryError or in a C array too big to link.
"""

from __future__ import annotations

#: Height or width of any tensor, kernel or stride. The largest Pi camera
#: still (HQ camera, 4056x3040) fits; a BNN input is a few hundred pixels.
MAX_DIM = 4096

#: Padding on one side of a window. Networks pad half a kernel (1 to 3);
#: past that, border outputs read padding only. 64 leaves room for any
#: F.pad a model does before a conv.
MAX_PAD = 64

#: Channels of any tensor. Binary layers of the widest published BNNs have
#: a few thousand; a uint64 word holds 64 of them.
MAX_CHANNELS = 16384

#: Batch size of a tensor. The exporter writes 1 (the C code runs batch 1);
#: the golden model runs any batch, so a few more are allowed.
MAX_BATCH = 64

#: Values (N x H x W x C) of one tensor: 2**24 is a 2048x2048x4 map, 128 MiB
#: in the golden model's float64.
MAX_TENSOR_VALUES = 2**24

#: Bytes of all tensors together, in their C layout (bits packed by 64).
#: The arena is a static array: this is half a Pi Zero 2's 512 MB.
MAX_GRAPH_BYTES = 256 * 2**20

#: Values one conv window sweep touches (output pixels x kernel taps x input
#: channels per group): the golden model gathers them as float64 (512 MiB).
#: A 224x224 ImageNet BNN needs about 7.2 M.
MAX_WINDOW_VALUES = 2**26

#: Nodes in a graph: each is a C function and a line in the plan.
MAX_NODES = 10000

#: Bytes of graph.json, and of one array in weights.npz once uncompressed
#: (an array is at most a few MB in any real model; the limit stops a file
#: that declares a huge array from being read into memory).
MAX_GRAPH_FILE_BYTES = 64 * 2**20
MAX_ARRAY_BYTES = 256 * 2**20

#: int8 products in one kernel row of an INT8 conv (kernel width x input
#: channels per group): the C sums a row in int32, and 2**16 products of
#: at most 128 x 128 stay below 2**31.
MAX_I8_ROW_VALUES = 2**16
