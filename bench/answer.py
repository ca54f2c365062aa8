"""Compute to the answer: how much training a search spent before it held a config as good as
an exhaustive grid's best, read from two finished sweeps of one benchmark.

A trial's cost is the epochs it trained (its last evaluated step: an ASHA-stopped trial's is
where it stopped); trials are taken in the order the sweep asked for them (the ledger's), which
is the order they ran with `max_concurrent: 1`. LP has no search (its C path is one trial),
so it is compared on its result only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lpft.dataset import read_results
from lpft.results import COMPLETED, STOPPED
from lpft.storage import Location
from lpft.sweeps.ledger import Ledger
from lpft.sweeps.stages import SEARCH


@dataclass(frozen=True)
class Answer:
    """One strategy: the grid's best config and what the search spent to come within tolerance."""

    strategy: str
    grid_best: dict[str, Any]  # its hyperparameters (hp.* without the prefix)
    grid_id_val: float
    grid_id_test: float
    grid_ood: float
    grid_epochs: int  # the grid's whole cost
    search_epochs: int | None  # the search's cost until its first config within tolerance (None: never)
    search_seconds: float | None
    search_id_test: float  # the search's own selected config (best ID val), for the ordering
    search_ood: float

    @property
    def ratio(self) -> float | None:
        return None if self.search_epochs is None or not self.grid_epochs else self.search_epochs / self.grid_epochs


def _search_trials(root: Location) -> list[dict[str, Any]]:
    """The search stage's ended trials, in the order the sweep asked for them, with their epochs."""
    entries = sorted((e for e in Ledger(root).entries().values() if e.ended), key=lambda e: e.order)
    table = read_results([root.uri])
    steps = table.group_by(["trial_id"]).aggregate([("step", "max")])
    last = dict(zip(steps["trial_id"].to_pylist(), steps["step_max"].to_pylist()))
    out = []
    for entry in entries:
        row = entry.row
        assert row is not None  # ended entries only (above)
        if row.stage != SEARCH or row.status not in (COMPLETED, STOPPED):
            continue
        out.append({**row.record(), "epochs": int(last.get(entry.trial, 0) or 0)})
    return out


def _hparams(row: dict[str, Any]) -> dict[str, Any]:
    return {k.removeprefix("hp."): v for k, v in row.items() if k.startswith("hp.") and v is not None}


def time_to_answer(grid: Location, search: Location, tolerance: float = 0.005) -> list[Answer]:
    """Per strategy of the grid sweep: its best (by ID val) against the search sweep's trials."""
    grid_trials, search_trials = _search_trials(grid), _search_trials(search)
    answers = []
    for strategy in dict.fromkeys(t["strategy"] for t in grid_trials):
        mine = [t for t in grid_trials if t["strategy"] == strategy]
        best = max(mine, key=lambda t: t["id_val"] or 0.0)
        theirs = [t for t in search_trials if t["strategy"] == strategy]
        epochs = seconds = 0.0
        reached: tuple[int, float] | None = None
        for t in theirs:
            epochs += t["epochs"]
            seconds += t.get("wall_time_s") or 0.0
            if reached is None and (t["id_val"] or 0.0) >= (best["id_val"] or 0.0) - tolerance:
                reached = (int(epochs), seconds)
        picked = max(theirs, key=lambda t: t["id_val"] or 0.0) if theirs else {}
        answers.append(Answer(strategy, _hparams(best), best["id_val"], best["id_test"], best["ood_avg"],
                              sum(t["epochs"] for t in mine), reached[0] if reached else None,
                              reached[1] if reached else None, picked.get("id_test", float("nan")),
                              picked.get("ood_avg", float("nan"))))
    return answers


def orderings(answers: list[Answer]) -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]]]:
    """((grid by ID test, search by ID test), (grid by OOD, search by OOD)): strategies best first."""
    def by(key: str) -> list[str]:
        return [a.strategy for a in sorted(answers, key=lambda a: -getattr(a, key))]

    return (by("grid_id_test"), by("search_id_test")), (by("grid_ood"), by("search_ood"))
