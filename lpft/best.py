"""The one rule for a strategy's best config: the searcher (which config it replicates), the
sweep's summary and the analysis all call `best_config`, so they cannot name different configs.

Configs are compared on the mean of the ranking metric over the seeds that every compared config
ran: in a sweep that is the search seed, since only the winner is replicated, so its replicates
neither help nor hurt it; where every config ran every seed, it is the mean over all of them.
The highest mean wins; a tie goes to the config whose hyperparameters sort first (numbers
numerically), an order that does not depend on which trial finished first or on a resume.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lpft.text import pct

ConfigKey = tuple[tuple[str, tuple[int, Any]], ...]


def config_key(hparams: Mapping[str, Any], exclude: Iterable[str] = ("seed",)) -> ConfigKey:
    """A config's hyperparameters (the seed excluded) as a sortable, hashable key."""
    skip = set(exclude)

    def sortable(v: Any) -> tuple[int, Any]:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return (2, "")
        if isinstance(v, (int, float)):  # bools too
            return (0, float(v))
        return (1, str(v))

    return tuple((k, sortable(v)) for k, v in sorted(hparams.items()) if k not in skip)


@dataclass(frozen=True)
class Scored:
    """One finished trial: its config, its seed and its ranking metric."""

    config: ConfigKey
    seed: int
    score: float


def config_scores(scored: Iterable[Scored]) -> dict[ConfigKey, float]:
    """Each config's ranking score: its mean over the seeds every config ran (see the module
    docstring); -inf for a config with no finite score."""
    by_config: dict[ConfigKey, dict[int, list[float]]] = {}
    for s in scored:  # a config may run a seed twice (a repeated suggestion, two sweeps read at once)
        by_config.setdefault(s.config, {}).setdefault(s.seed, []).append(s.score)
    if not by_config:
        return {}
    common = set.intersection(*(set(seeds) for seeds in by_config.values()))

    def mean(seeds: dict[int, list[float]]) -> float:
        per_seed = [_mean(v) for seed, v in seeds.items() if not common or seed in common]
        finite = [v for v in per_seed if math.isfinite(v)]
        return statistics.fmean(finite) if finite else -math.inf

    return {c: mean(seeds) for c, seeds in by_config.items()}


def best_config(scored: Iterable[Scored]) -> ConfigKey | None:
    """The winning config (None when nothing was scored); see the module docstring."""
    scores = config_scores(scored)
    return min(scores, key=lambda c: (-scores[c], c)) if scores else None


def tied_configs(scored: Iterable[Scored]) -> int:
    """How many configs other than the winner share its exact score (the tie rule chose among them)."""
    scores = config_scores(scored)
    if not scores:
        return 0
    top = max(scores.values())
    return sum(v == top for v in scores.values()) - 1 if math.isfinite(top) else 0


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.fmean(finite) if finite else math.nan


SMALL_VAL = 200  # fewer ranking examples than this: selection moves in steps of more than 0.5 points


def small_val_note(n: int, val_set: str = "id_val") -> str:
    """What a selection on `n` ID val examples cannot tell ('' for `SMALL_VAL` or more): the sweep's
    summary and `lpft analyze` both say it this way."""
    if not 0 < n < SMALL_VAL:
        return ""
    return (f"small validation set: {val_set} has {n} examples, so ID val accuracy moves in steps of "
            f"{pct(1 / n, 2)} points and configs closer than that cannot be told apart")
