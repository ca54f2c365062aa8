"""One Ray Tune searcher for a whole sweep: a branch per strategy, then the replicate stage.

The conditional space's top level is the strategy; each strategy keeps its own Optuna
search (its own study: LP-FT's good learning rates sit orders of magnitude below FT's,
so one TPE model over both would mislead itself) and its own trial budget. When a
strategy's search trials have all finished, the searcher queues its best config (by
`lpft.best` on the first metric, ID val by default) on the replicate seeds. Running the whole sweep
in one Tuner lets Ray reuse trial actors across strategies and stages: a new Tuner
costs a new actor process (~2 s here), which dominated Ray's overhead per trial.
"""

from __future__ import annotations

import pickle
from typing import Any

from ray.tune.search import Searcher

from lpft.best import Scored, best_config, config_key
from lpft.results import COMPLETED
from lpft.storage import join_uri
from lpft.sweeps.stages import REPLICATE, SEARCH, WISE
from lpft.trainables.trainable import META_KEYS


def _key(config: dict[str, Any]) -> tuple:
    """`lpft.best`'s key of a trial config: its hyperparameters, without the seed and stage."""
    return config_key({k: v for k, v in config.items() if k not in META_KEYS})


class SweepSearcher(Searcher):
    def __init__(self, searchers: dict[str, Searcher], budgets: dict[str, int], replicate_seeds: list[int],
                 metric: str, derived: dict[str, list[dict[str, Any]]] | None = None, models_uri: str = "") -> None:
        super().__init__(metric=None, mode=None)
        self.searchers = searchers  # strategy -> OptunaSearch
        self.budgets = dict(budgets)
        self.replicate_seeds = list(replicate_seeds)
        self.rank_metric = metric
        self.issued = {name: 0 for name in searchers}
        self.running: dict[str, tuple[str, str]] = {}  # trial_id -> (stage, strategy)
        self.configs: dict[str, dict[str, Any]] = {}  # trial_id -> the config it was given
        self.finished: dict[str, list[tuple[dict, dict]]] = {name: [] for name in searchers}
        self.queue: list[dict[str, Any]] = []  # replicate (and wise) configs waiting to be issued
        # source strategy -> wise configs to run on its best search trial's saved model
        self.derived = derived or {}
        self.models_uri = models_uri

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True  # each strategy's searcher was built with its own metric and mode

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self.queue:
            config = self.queue.pop(0)
            self.running[trial_id] = (config["stage"], config["strategy"])
            self.configs[trial_id] = config
            return config
        for name, searcher in self.searchers.items():
            if self.issued[name] < self.budgets[name]:
                config = searcher.suggest(trial_id)
                if config is None or config == Searcher.FINISHED:  # a grid that ran out early
                    self.budgets[name] = self.issued[name]
                    continue
                self.issued[name] += 1
                self.running[trial_id] = (SEARCH, name)
                self.configs[trial_id] = {**config, "stage": SEARCH}
                return self.configs[trial_id]
        return None if self.running else Searcher.FINISHED

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        stage, name = self.running.get(trial_id, (REPLICATE, ""))
        if stage == SEARCH:
            self.searchers[name].on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id not in self.running:
            return
        stage, name = self.running.pop(trial_id)
        if stage != SEARCH:
            return
        self.searchers[name].on_trial_complete(trial_id, result=result, error=error)
        if result and not error and result.get("status") == COMPLETED:
            self.finished[name].append((self.configs[trial_id], dict(result)))
        still_running = any(s == SEARCH and n == name for s, n in self.running.values())
        if self.issued[name] >= self.budgets[name] and not still_running:
            self._queue_replicates(name)

    def _queue_replicates(self, name: str) -> None:
        if not self.finished[name]:
            return
        best = best_config(Scored(_key(c), c["seed"], r.get(self.rank_metric, 0.0)) for c, r in self.finished[name])
        config, result = next((c, r) for c, r in self.finished[name] if _key(c) == best)
        self.queue += [{**config, "seed": seed, "stage": REPLICATE} for seed in self.replicate_seeds]
        source = result.get("trial_id")
        self.queue += [{**template, "seed": config["seed"], "stage": WISE, "source_trial": source,
                        "model": join_uri(self.models_uri, f"{source}.pt")} for template in self.derived.get(name, [])]

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__dict__.copy(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.__dict__.update(pickle.load(f))
