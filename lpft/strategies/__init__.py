"""The strategies: plain functions, no Ray inside; each module of this package is one strategy
(or a part they share), registered in STRATEGIES when imported (see `lpft.strategies.base`).

Importing this package imports every module in it, so a new strategy is one new file here.
"""

from __future__ import annotations

import importlib
import pkgutil

from lpft.strategies.base import STRATEGIES, EpochCallback, Strategy, hparam_columns, strategy

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["STRATEGIES", "EpochCallback", "Strategy", "hparam_columns", "strategy"]
