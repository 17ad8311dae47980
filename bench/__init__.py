"""Benchmarks: bnnkit's generated C against PyTorch and the peers (``bnn-bench``)."""
