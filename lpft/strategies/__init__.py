"""The strategies: plain functions, no Ray inside; each module of this package is one strategy
(or a part they share), registered in STRATEGIES when imported (see `lpft.strategies.base`).

Importing this package imports every module in it (but the SGD loop's, `training`), so a new
strategy is one new file here.
"""

from __future__ import annotations

import importlib
import pkgutil

from lpft.strategies.base import STRATEGIES, EpochCallback, Strategy, hparam_columns, strategy

# Not `training` (the SGD loop, torch's): a strategy imports it when a trial runs, so what only
# names strategies (a spec, the `lpft` command) needs no torch.
for _module in pkgutil.iter_modules(__path__):
    if _module.name != "training":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["STRATEGIES", "EpochCallback", "Strategy", "hparam_columns", "strategy"]
