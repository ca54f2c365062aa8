"""Search spaces: a hyperparameter's distribution (`Param`), declared beside its default.

A strategy's params dataclass declares each searched field with `hparam(default, search=...,
grid=...)` (DomainBed keeps a default and its search distribution on one line); the strategy
registry reads them back as the strategy's default Optuna space and the paper's grid. A sweep
spec overrides or adds parameters per strategy; a constant pins a hyperparameter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a `Param` is: a range of floats or ints, choices, or one fixed value."""

    FLOAT = "float"
    INT = "int"
    CATEGORICAL = "categorical"
    CONSTANT = "constant"


@dataclass(frozen=True)
class Param:
    """float/int range (log scale optional), categorical choices, or a constant."""

    kind: Kind  # a name ("float") is made the member; an unknown one is a ValueError
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    value: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", Kind(self.kind))

    def suggest(self, trial: Any, name: str) -> Any:
        if self.kind == Kind.FLOAT:
            return trial.suggest_float(name, self.low, self.high, log=self.log)
        if self.kind == Kind.INT:
            assert self.low is not None and self.high is not None  # a range has both bounds
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        if self.kind == Kind.CATEGORICAL:
            return trial.suggest_categorical(name, list(self.choices))
        return self.value


def log_float(low: float, high: float) -> Param:
    return Param(Kind.FLOAT, low, high, log=True)


def choice(*values: Any) -> Param:
    return Param(Kind.CATEGORICAL, choices=tuple(values))


SEARCH, GRID = "lpft.search", "lpft.grid"  # dataclass field metadata keys


def hparam(default: Any, *, search: Param | None = None, grid: Sequence[Any] = ()) -> Any:
    """A hyperparameter field: its default, the distribution a default sweep searches, and the
    values of the paper's grid (`search: grid`)."""
    metadata: dict[str, Any] = {}
    if search is not None:
        metadata[SEARCH] = search
    if grid:
        metadata[GRID] = tuple(grid)
    return dataclasses.field(default=default, metadata=metadata)


def default_space(params: type) -> dict[str, Param]:
    """The fields of a params dataclass that declare a search distribution."""
    return {f.name: f.metadata[SEARCH] for f in dataclasses.fields(params) if SEARCH in f.metadata}


def paper_grid(params: type) -> dict[str, list[Any]]:
    """The fields of a params dataclass that declare grid values."""
    return {f.name: list(f.metadata[GRID]) for f in dataclasses.fields(params) if GRID in f.metadata}


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
            if param.kind == Kind.CONSTANT:
                constants[name] = value
        return constants


def define_by_run(space: dict[str, Param]) -> Callable[[Any], dict[str, Any]]:
    return DefineByRun(dict(space))


def grid_size(grid: dict[str, list[Any]]) -> int:
    n = 1
    for values in grid.values():
        n *= len(values)
    return n
