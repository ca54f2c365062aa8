"""lpft: sweeps of transfer-learning strategies (LP, FT, LP-FT) and their ID-vs-OOD tradeoffs."""

from lpft.allocator import configure as _configure_allocator

__version__ = "0.1.0"

_configure_allocator()  # before anything imports polars: see lpft.allocator
