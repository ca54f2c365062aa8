"""Optuna define-by-run search spaces per strategy, and the paper's grids.

A space is a dict name -> Param. The defaults follow the paper: FT lr log-uniform
over [3e-5, 1e-2]; LP-FT lr over [1e-7, 1e-3] (its best rates were much smaller);
LP searches nothing, since one trial runs its whole C path. A sweep spec overrides
or adds parameters per strategy; a constant pins a hyperparameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from lpft.registry import Registry


@dataclass(frozen=True)
class Param:
    """float/int range (log scale optional), categorical choices, or a constant."""

    kind: str  # "float" | "int" | "categorical" | "constant"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    value: Any = None

    def suggest(self, trial: Any, name: str) -> Any:
        if self.kind == "float":
            return trial.suggest_float(name, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        if self.kind == "categorical":
            return trial.suggest_categorical(name, list(self.choices))
        return self.value


def log_float(low: float, high: float) -> Param:
    return Param("float", low, high, log=True)


DEFAULT_SPACES: Registry[dict[str, Param]] = Registry("search space")
DEFAULT_SPACES.register("lp")({})
DEFAULT_SPACES.register("ft")({"lr": log_float(3e-5, 1e-2)})
DEFAULT_SPACES.register("lpft")({"lr": log_float(1e-7, 1e-3)})
DEFAULT_SPACES.register("l2sp")({"lr": log_float(3e-5, 1e-2), "l2sp_weight": log_float(1e-4, 10.0)})
DEFAULT_SPACES.register("wise")({})  # one trial evaluates the whole alpha grid
DEFAULT_SPACES.register("ft-partial")({"lr": log_float(3e-5, 1e-2),
                                       "train_blocks": Param("categorical", choices=(1, 2, 3))})

# The paper's grids (Kumar et al. 2022, Appendix), run through Optuna's GridSampler.
PAPER_GRIDS: Registry[dict[str, list[Any]]] = Registry("grid")
PAPER_GRIDS.register("lp")({})
PAPER_GRIDS.register("ft")({"lr": [3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]})
PAPER_GRIDS.register("lpft")({"lr": [1e-7, 1e-6, 1e-5, 1e-4, 1e-3]})
# Not in the paper: FT's grid crossed with each method's own knob.
PAPER_GRIDS.register("l2sp")({"lr": [3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2], "l2sp_weight": [1e-3, 1e-2, 1e-1, 1.0]})
PAPER_GRIDS.register("wise")({})
PAPER_GRIDS.register("ft-partial")({"lr": [3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2], "train_blocks": [1, 2, 3]})


@dataclass(frozen=True)
class DefineByRun:
    """An OptunaSearch define-by-run function: samples ranges, returns the constants.

    A class, not a closure: Ray pickles the searcher into every experiment checkpoint.
    """

    space: dict[str, Param]

    def __call__(self, trial: Any) -> dict[str, Any]:
        constants = {}
        for name, param in sorted(self.space.items()):
            value = param.suggest(trial, name)
            if param.kind == "constant":
                constants[name] = value
        return constants


def define_by_run(space: dict[str, Param]) -> Callable[[Any], dict[str, Any]]:
    return DefineByRun(dict(space))


def grid_size(grid: dict[str, list[Any]]) -> int:
    n = 1
    for values in grid.values():
        n *= len(values)
    return n
