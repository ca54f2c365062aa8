"""lpft: sweeps of transfer-learning strategies (LP, FT, LP-FT) and their ID-vs-OOD tradeoffs."""

__version__ = "0.1.0"
