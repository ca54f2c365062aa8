"""Benchmarks: each module of this package that registers one (`lpft.data.registry`) is imported
here, so `from lpft.data import BENCHMARKS` sees them all; `load_benchmark` builds one."""

from __future__ import annotations

import importlib
import pkgutil

from lpft.data.base import Benchmark, Split
from lpft.data.registry import BENCHMARKS, load_benchmark, locate_data, register

# Not the torch helpers of what trains (`loading`: torch's DataLoader; `prepared` and `crops`:
# the node's decoded copy and its crops): naming a benchmark needs no torch.
TORCH_HELPERS = {"loading", "prepared", "crops"}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in TORCH_HELPERS:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["BENCHMARKS", "Benchmark", "Split", "load_benchmark", "locate_data", "register"]
