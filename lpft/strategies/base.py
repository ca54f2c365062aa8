"""What a strategy is, and the registry of them.

A strategy is a plain function `fn(benchmark, backbone, hp, device="cpu", on_epoch=None,
resume=None, workers=0) -> RunResult`, registered with `@strategy(name, Params, description,
look=Look(...))`; the decorator stamps `name` into every RunResult the function returns, and
`look` (`lpft.looks`: label, colour, order, the hyperparameter a summary shows) is how tables,
figures and sentences show it.
Its params dataclass declares each field's default, and with `hparam(..., search=..., grid=...)`
its default search distribution and the paper's grid; hyperparameters that change along one
trial (LP's C path, WiSE's alpha grid) are declared as `step_hparams`. So one file holds a
whole strategy: every module of this package is imported by `lpft.strategies`, and a module
anywhere else registers by being imported.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lpft.dataset import HparamColumns
from lpft.errors import InputError, quote
from lpft.looks import Look, checked
from lpft.names import RULE, is_name
from lpft.registry import Registry
from lpft.results import Evaluation, RunResult, calibration_gaps
from lpft.search_spaces import Param, default_space, paper_grid
from lpft.strategies.sgd_params import SGDParams


class EpochCallback(Protocol):
    """Called after each evaluated step: a trainable reports from it."""

    def __call__(self, step: int, evals: list[Evaluation], state: Callable[[], dict[str, Any]] | None,
                 signals: dict[str, float] | None = None, /) -> None:
        """`state`: None, or a zero-argument function returning everything needed to resume (pass
        it back as `resume=`), built only when called, so runs that never checkpoint pay nothing.
        `signals`, from training loops, says how training went: {"train_loss": the epoch's mean
        loss, "lr": the backbone's learning rate at its end}; they go to trackers, not results."""


StrategyFn = Callable[..., RunResult]


@dataclass(frozen=True)
class SeedContext:
    """What besides its hyperparameters decides what a trial's seed changes."""

    weights: str  # the backbone's weights: "none" is a random init drawn from the seed
    split_resampled: bool = False  # the seed also draws the benchmark's split (a spec's `resample_split`)

    def common(self) -> tuple[str, ...]:
        """What the seed changes for any strategy in this context."""
        return (("backbone init",) if self.weights == "none" else ()) + \
            (("ID train/val split",) if self.split_resampled else ())


# (hyperparameters, context) -> what the seed changes in such a run; () when it changes nothing,
# so a replicate on another seed would repeat the same numbers and is not run.
SeedControls = Callable[[Any, SeedContext], tuple[str, ...]]


def seed_unknown(hp: Any, context: SeedContext) -> tuple[str, ...]:
    """A strategy that declares nothing: its seed is assumed to change what it draws at random."""
    return ("whatever it draws at random", *context.common())


def sgd_seed_controls(hp: Any, context: SeedContext) -> tuple[str, ...]:
    """The SGD loop's (`lpft.strategies.training`): the seed draws each epoch's data order and
    augmentation (and a fresh or probed head's init), so replicates differ."""
    return ("head init", "data order", "augmentation", *context.common())


@dataclass(frozen=True)
class Strategy:
    name: str
    params: type  # a frozen dataclass; its field names are the `--set` keys and `hp.<name>` columns
    run: StrategyFn
    description: str
    # Hyperparameters set per step rather than per trial (not part of a config), with their types.
    step_hparams: dict[str, type] = field(default_factory=dict)
    # Of those, the ones whose steps are an interpolation path (drawn as one curve per trial).
    path_hparams: tuple[str, ...] = ()
    # Runs on other strategies' best trials (`of: [...]` in a spec, its `model` and `source_trial`
    # filled by the sweep) instead of searching a space of its own: WiSE.
    derived: bool = False
    seed_controls: SeedControls = seed_unknown  # what its seed changes (() : nothing)
    look: Look | None = None  # how it is shown (see `lpft.looks`); None: its name, plainly
    # A derived strategy that runs once on every completed trial of all its sources (a soup's
    # ingredients: `candidates` and `models` filled by the sweep once they have all ended),
    # instead of once per source on its best search trial (WiSE).
    pooled: bool = False

    @property
    def display(self) -> Look:
        return self.look or Look(label=self.name)

    @property
    def space(self) -> dict[str, Param]:
        """The default search space: what the params dataclass declares with `search=`."""
        return default_space(self.params)

    @property
    def grid(self) -> dict[str, list[Any]]:
        """The paper's grid (`search: grid`): what the params dataclass declares with `grid=`."""
        return paper_grid(self.params)

    @property
    def fine_tunes(self) -> bool:
        """Trains the backbone with the SGD loop (FT and its variants): has its hyperparameters
        and a model to save."""
        return issubclass(self.params, SGDParams)


STRATEGIES: Registry[Strategy] = Registry("strategy")


def strategy(name: str, params: type, description: str, step_hparams: dict[str, type] | None = None,
             path_hparams: tuple[str, ...] = (), derived: bool = False,
             seed_controls: SeedControls = seed_unknown,
             look: Look | None = None, pooled: bool = False) -> Callable[[StrategyFn], StrategyFn]:
    """Registers the decorated function as strategy `name` (the `strategy` column of results:
    stamped into each RunResult it returns, so the function never writes its name again).
    `seed_controls` declares what the seed changes (see `SeedControls`); without it, the seed is
    taken to matter and replicates always run. `look`: how it is shown (`lpft.looks`)."""

    def add(fn: StrategyFn) -> StrategyFn:
        # The name is a folder of every results dataset (`strategy=<name>/`): one safe path component.
        if not is_name(name):
            raise InputError(f"strategy name {quote(name)}: {RULE} (it names a folder)")

        @functools.wraps(fn)
        def named(*args: Any, **kwargs: Any) -> RunResult:
            result = fn(*args, **kwargs)
            return dataclasses.replace(result, strategy=name,
                                       diagnostics={**result.diagnostics, **calibration_gaps(result.evaluations)})

        STRATEGIES.register(name)(Strategy(name, params, named, description, dict(step_hparams or {}),
                                           tuple(path_hparams), derived or pooled, seed_controls, checked(name, look),
                                           pooled))
        return named

    return add


def hparam_columns() -> HparamColumns:
    """Every registered strategy's hyperparameters (and per-step ones): the `hp.*` columns."""
    types: dict[str, type] = {}
    per_step: dict[str, None] = {}
    paths: dict[str, None] = {}
    for name in STRATEGIES:
        s = STRATEGIES[name]
        for key, kind in s.step_hparams.items():
            types.setdefault(key, kind)
            per_step[key] = None
        paths.update(dict.fromkeys(s.path_hparams))
        for key, kind in typing.get_type_hints(s.params).items():
            types.setdefault(key, kind)
    return HparamColumns(types, tuple(per_step), tuple(paths), {name: STRATEGIES[name].display for name in STRATEGIES})
