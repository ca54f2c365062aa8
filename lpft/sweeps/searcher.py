"""One Ray Tune searcher for a whole sweep: a branch per strategy, then the replicate stage.

The conditional space's top level is the strategy; each strategy keeps its own search (its
own Optuna study: LP-FT's good learning rates sit orders of magnitude below FT's, so one
TPE model over both would mislead itself; or the paper's grid, enumerated in order) and its
own trial budget. When a strategy's search trials have all finished, the searcher queues
its best config (by `lpft.best` on the first metric, ID val by default) on the replicate
seeds. Running the whole sweep in one Tuner lets Ray reuse trial actors across strategies
and stages: a new Tuner costs a new actor process (~2 s here).

Every trial gets a name from its place in the sweep (`ft-003`: FT's fourth search trial;
`ft-seed7`: FT's best config on seed 7; `wise-ft-003`; `soup-greedy`, a soup of all its sources'
completed trials, queued when they have all ended), recorded in the sweep's ledger
before Ray starts it. `--resume` builds a new searcher from the ledger (`restore_from`): ended
trials count against the budgets and inform Optuna, trials asked for but not ended are
issued again first under their own names. Ray's pickled searcher state is not used.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Literal

from ray.tune.search import Searcher

from lpft.best import Scored, best_config, config_key
from lpft.results import COMPLETED, DIVERGED, ERROR
from lpft.search_spaces import Kind, Param
from lpft.storage import join_uri
from lpft.sweeps.ledger import Entry, Ledger
from lpft.sweeps.stages import REPLICATE, SEARCH, SOUP, WISE
from lpft.sweeps.study import distribution, name_metrics, trial_attrs
from lpft.trainables.trainable import META_KEYS, TRIAL_KEY


def _key(config: dict[str, Any]) -> tuple:
    """`lpft.best`'s key of a trial config: its hyperparameters, without the seed and stage."""
    return config_key({k: v for k, v in config.items() if k not in META_KEYS})


def _index(trial: str) -> int:
    """A search trial's place in its strategy's search: 3 for `ft-003`."""
    return int(trial.rsplit("-", 1)[1])


def grid_configs(grid: dict[str, list[Any]], constants: dict[str, Any]) -> list[dict[str, Any]]:
    """Every grid point, in a fixed order (so trial `ft-003` is the same point after a resume)."""
    keys = sorted(grid)
    return [{**constants, **dict(zip(keys, values))} for values in itertools.product(*(grid[k] for k in keys))]


def startup_trials(budget: int) -> int:
    """TPE's random trials before it models the results: Optuna's 10, but a third of a smaller
    budget (at least 2). At lpft's budgets (4-6 trials per strategy) 10 would leave every trial
    random; with 2, TPE samples near the best so far from the third on."""
    return 10 if budget <= 0 else min(10, max(2, budget // 3))


class OptunaBranch:
    """One strategy's Optuna search: Ray's OptunaSearch over a study lpft can also tell results
    to directly (ended trials read back from the ledger, re-issued trials).

    With a persistent `storage` (the sweep's journal, `lpft.sweeps.study.journal`) the study
    is live: optuna-dashboard follows it while the sweep runs. Each Optuna trial carries its
    lpft name as the user attribute `trial_id`, its ID val per step as intermediate values,
    and when it ends its status and accuracies as user attributes; a resumed sweep finds its
    trials there (ended ones are not told twice; one asked but cut off is ended when its
    re-issued run ends, so every lpft trial is one Optuna trial; one named but cut off before
    the ledger recorded it runs the point Optuna chose for it when the resumed sweep asks for
    that name again; one asked but cut off before it was named never ran, and fails)."""

    def __init__(self, name: str, space: dict[str, Param], constants: dict[str, Any], metrics: list[str],
                 seed: int, storage: Any = None, budget: int = 0) -> None:
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        from lpft.search_spaces import define_by_run

        self.metrics = metrics
        self.searched = {k: p for k, p in space.items() if p.kind != Kind.CONSTANT}
        self.storage = storage or optuna.storages.InMemoryStorage()
        directions: list[Literal["maximize"]] = ["maximize"] * len(metrics)
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(budget))
        self.study = optuna.create_study(storage=self.storage, study_name=name, directions=directions,
                                         sampler=sampler, load_if_exists=True)
        name_metrics(self.study, metrics)
        self.study_id = self.storage.get_study_id_from_name(name)
        # An Optuna trial asked for and then cut off before lpft named it (a kill between the
        # two) never ran: FAIL, as Optuna marks a trial that did not finish, not running forever.
        for t in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if "trial_id" not in t.user_attrs:
                self.storage.set_trial_state_values(self._storage_id(t.number), optuna.trial.TrialState.FAIL)
        held = {t.user_attrs["trial_id"]: t for t in self.study.get_trials(deepcopy=False)
                if "trial_id" in t.user_attrs}
        self.told = {n for n, t in held.items() if t.state.is_finished()}  # ended in an earlier run
        # lpft trial name -> its Optuna trial's storage id, while it runs (or was left running)
        self.open = {n: self._storage_id(t.number) for n, t in held.items() if not t.state.is_finished()}
        constant_params = {k: Param(Kind.CONSTANT, value=v) for k, v in constants.items()}
        metric: Any = metrics if len(metrics) > 1 else metrics[0]
        mode: Any = ["max"] * len(metrics) if len(metrics) > 1 else "max"
        # OptunaSearch loads the study above (same storage and name) instead of making its own.
        self.define = define_by_run({**space, **constant_params})
        self.search = OptunaSearch(space=self.define, metric=metric, mode=mode,
                                   sampler=self.study.sampler, storage=self.storage, study_name=name)
        self.asked: set[str] = set()  # the trial names (ft-003) this OptunaSearch suggested in this run

    def _storage_id(self, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        import optuna

        if trial_id in self.open and trial_id not in self.asked:
            # Named in an earlier run and cut off before the ledger recorded it (so Ray never
            # started it): run the point Optuna chose then, as that Optuna trial, which its end
            # closes like a re-issued trial's; asking again would name two Optuna trials alike.
            params = self.storage.get_trial(self.open[trial_id]).params
            return {**params, **self.define(optuna.trial.FixedTrial(params))}
        config = self.search.suggest(trial_id)
        if isinstance(config, dict):
            self.asked.add(trial_id)
            # The trial OptunaSearch just asked for: this study's newest running one (asks are sequential).
            running = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            self.open[trial_id] = self._storage_id(max(t.number for t in running))
            self.storage.set_trial_user_attr(self.open[trial_id], "trial_id", trial_id)
            return config
        return None

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if "step" not in result or len(self.metrics) > 1:  # the final report; Optuna has no multi-objective steps
            return
        if trial_id in self.asked:  # at the trial's own step (its epoch), not Tune's report count
            self.search.on_trial_result(trial_id, {**result, "training_iteration": result["step"]})
        elif trial_id in self.open and isinstance(result.get(self.metrics[0]), (int, float)):
            self.storage.set_trial_intermediate_value(self.open[trial_id], int(result["step"]),
                                                      float(result[self.metrics[0]]))

    def on_trial_complete(self, trial_id: str, config: dict[str, Any], result: dict | None, error: bool) -> None:
        if trial_id not in self.asked:  # not asked of Optuna in this run of the sweep
            self.tell(config, result, error)
            return
        for key, value in trial_attrs(result, error).items():  # set while the trial may still change
            self.storage.set_trial_user_attr(self.open[trial_id], key, value)
        self.search.on_trial_complete(trial_id, result=result, error=error)
        self.open.pop(trial_id, None)
        self.told.add(trial_id)

    def _outcome(self, result: dict | None, error: bool) -> tuple[Any, list[float] | None]:
        import optuna

        values: list[Any] = [(result or {}).get(m) for m in self.metrics]  # numbers when `ok`
        ok = not error and result is not None and result.get("status") in (COMPLETED, DIVERGED) \
            and all(isinstance(v, (int, float)) for v in values)
        state = optuna.trial.TrialState.COMPLETE if ok else (
            optuna.trial.TrialState.FAIL if error or (result or {}).get("status") == ERROR
            else optuna.trial.TrialState.PRUNED)
        return state, [float(v) for v in values] if ok else None

    def tell(self, config: dict[str, Any], result: dict | None, error: bool) -> None:
        """A trial's end, as the ledger or a re-issued run reports it: ends its Optuna trial if
        one was asked for and left running, else adds one (unless the journal holds it ended)."""
        import optuna

        name = config.get(TRIAL_KEY)
        if name in self.told:
            return
        state, values = self._outcome(result, error)
        attrs = {"trial_id": name, **trial_attrs(result, error)}
        if name in self.open:
            storage_id = self.open.pop(name)
            for key, value in attrs.items():
                self.storage.set_trial_user_attr(storage_id, key, value)
            self.storage.set_trial_state_values(storage_id, state, values)
        else:
            params = {k: config[k] for k in self.searched if k in config}
            self.study.add_trial(optuna.trial.create_trial(
                params=params, distributions={k: distribution(p) for k, p in self.searched.items() if k in params},
                values=values, state=state, user_attrs=attrs))
        self.told.add(name)


class SweepSearcher(Searcher):
    def __init__(self, branches: dict[str, OptunaBranch | list[dict[str, Any]]], budgets: dict[str, int],
                 replicate_seeds: list[int], metric: str, ledger: Ledger,
                 derived: dict[str, list[dict[str, Any]]] | None = None, models_uri: str = "",
                 on_deterministic: Callable[[str, int], None] | None = None, window: int = 0,
                 pooled: list[tuple[dict[str, Any], tuple[str, ...]]] | None = None,
                 on_skipped: Callable[[str, int, str], None] | None = None) -> None:
        super().__init__(metric=None, mode=None)
        self.branches = branches  # strategy -> its Optuna search, or its grid's configs in order
        self.budgets = dict(budgets)
        self.replicate_seeds = list(replicate_seeds)
        self.rank_metric = metric
        self.ledger = ledger
        self.issued = dict.fromkeys(branches, 0)
        self.order = 0  # trials asked for so far (the ledger's order)
        self.entries: dict[str, Entry] = {}  # trial name -> its ledger entry
        self.running: dict[str, str] = {}  # Ray trial id -> trial name
        self.finished: dict[str, list[tuple[dict, dict]]] = {name: [] for name in branches}
        self.queue: list[dict[str, Any]] = []  # configs to issue before new search trials
        # source strategy -> wise configs to run on its best search trial's saved model
        self.derived = derived or {}
        self.models_uri = models_uri
        # strategy -> replicates not run: its selected trial's seed changed nothing (`seed_controls`)
        self.skipped: dict[str, int] = {}
        self.on_deterministic = on_deterministic  # told (strategy, replicates skipped) once
        # A fixed ask/tell order (`deterministic_search`): search trial n of a strategy is asked only
        # once its trials 0..n-window have ended, and Optuna is told exactly those, in order, before
        # it; results that come early wait. So what TPE saw at each ask does not depend on which
        # trial finished first. 0: asynchronous (tell at once, ask whenever a slot is free).
        self.window = window
        self.held: dict[str, dict[int, tuple[dict, dict | None, bool]]] = {name: {} for name in branches}
        # Soups: (config template, source strategies), each queued once every trial of its sources has ended.
        self.pooled = list(pooled or [])
        self.completed: dict[str, set[str]] = {name: set() for name in branches}  # strategy -> completed trials
        self.on_skipped = on_skipped  # told (strategy, trials not run, one line why) of a soup with no ingredient
        self.unserved: set[str] = set()  # soups whose sources completed no trial

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True  # each strategy's search was built with its own metric and mode

    def restore_from(self, entries: dict[str, Entry]) -> None:
        """Continue the sweep the ledger records: see the module docstring."""
        for entry in entries.values():
            config = entry.config
            name, stage = config["strategy"], config.get("stage", SEARCH)
            self.entries[entry.trial] = entry
            self.order = max(self.order, entry.order + 1)
            if stage == SEARCH and name in self.issued:
                self.issued[name] += 1
            if entry.row is None:  # not entry.ended
                self.queue.append(config)
                continue
            if entry.row.status == COMPLETED and name in self.completed:
                self.completed[name].add(entry.trial)
            if stage == SEARCH and name in self.branches:
                # as Ray reported it: the row's record holds the same metrics under the same names
                self._search_ended(name, config, entry.row.record(), entry.row.status == ERROR, restored=True)
        for name in self.branches:
            self._maybe_queue_replicates(name)
        self._maybe_queue_soups()

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]  # Ray omits FINISHED
        config = self._next()
        if config is None:
            return None if self.running else Searcher.FINISHED
        trial = config[TRIAL_KEY]
        if trial not in self.entries:  # durable before Ray starts it
            self.entries[trial] = Entry(trial, self.order, config)
            self.ledger.asked(trial, self.order, config)
            self.order += 1
        self.running[trial_id] = trial
        return config

    def _next(self) -> dict[str, Any] | None:
        if self.queue:
            return self.queue.pop(0)
        for name, branch in self.branches.items():
            if self.issued[name] >= self.budgets[name]:
                continue
            n = self.issued[name]
            if isinstance(branch, OptunaBranch):
                if self.window and not self._release(name, n - self.window):
                    continue  # an earlier trial is still running: another strategy may use the slot
                config = branch.suggest(f"{name}-{n:03d}")
            else:
                config = branch[n] if n < len(branch) else None
            if config is None:  # nothing left to sample: the search is over, what follows it may start
                self.budgets[name] = n
                self._maybe_queue_replicates(name)
                self._maybe_queue_soups()
                if self.queue:
                    return self.queue.pop(0)
                continue
            self.issued[name] += 1
            return {**config, "stage": SEARCH, TRIAL_KEY: f"{name}-{n:03d}"}
        return None

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        trial = self.running.get(trial_id)
        if trial is None:
            return
        config = self.entries[trial].config
        branch = self.branches.get(config["strategy"])
        if config.get("stage") == SEARCH and isinstance(branch, OptunaBranch):
            branch.on_trial_result(trial, result)  # the branch knows its trials by their names

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        trial = self.running.pop(trial_id, None)
        if trial is None:
            return
        config = self.entries[trial].config
        name = config["strategy"]
        if not error and result is not None and result.get("status") == COMPLETED and name in self.completed:
            self.completed[name].add(trial)
        if config.get("stage") == SEARCH and name in self.branches:
            if self.window and isinstance(self.branches[name], OptunaBranch):
                self.held[name][_index(config[TRIAL_KEY])] = (config, result, error)  # told in order, later
            else:
                self._search_ended(name, config, result, error)
            self._maybe_queue_replicates(name)
        self._maybe_queue_soups()

    def _outstanding(self, name: str, stage: str | None = None) -> bool:
        """Whether a trial of strategy `name` (of `stage`, if given) is queued or running."""
        configs = [*self.queue, *(self.entries[t].config for t in self.running.values())]
        return any(c["strategy"] == name and (stage is None or c.get("stage") == stage) for c in configs)

    def _ended(self, name: str) -> bool:
        """Whether every trial of strategy `name` (search and replicates) has been asked and has ended."""
        return self.issued[name] >= self.budgets[name] and not self.held[name] and not self._outstanding(name)

    def _maybe_queue_soups(self) -> None:
        """A soup of every completed trial of its sources (in the order they were asked for), once
        they have all ended; none when they completed none."""
        for template, sources in self.pooled:
            name = template["strategy"]
            if name in self.entries or name in self.unserved or any(c[TRIAL_KEY] == name for c in self.queue):
                continue
            if not all(s in self.branches and self._ended(s) for s in sources):
                continue
            candidates = sorted({t for s in sources for t in self.completed[s]}, key=lambda t: self.entries[t].order)
            if candidates:
                self.queue.append({**template, "seed": self.entries[candidates[0]].config["seed"], "stage": SOUP,
                                   "candidates": ",".join(candidates), "models": self.models_uri, TRIAL_KEY: name})
            else:
                self.unserved.add(name)
                if self.on_skipped is not None:
                    self.on_skipped(name, 1, f"{name}: not run: {' and '.join(sources)} completed no trial to average")

    def _release(self, name: str, upto: int) -> bool:
        """Tells Optuna the held results of `name`'s trials 0..`upto`, in order; False (telling
        nothing) while one of them is still running."""
        held, branch = self.held[name], self.branches[name]
        ended = set(held) | {_index(t) for t in branch.told} if isinstance(branch, OptunaBranch) else set(held)
        if any(i not in ended for i in range(upto + 1) if i < self.issued[name]):
            return False
        for i in sorted(i for i in held if i <= upto):
            self._search_ended(name, *held.pop(i))
        return True

    def _search_ended(self, name: str, config: dict[str, Any], result: dict | None, error: bool,
                      restored: bool = False) -> None:
        branch = self.branches[name]
        if isinstance(branch, OptunaBranch):
            if restored:
                branch.tell(config, result, error)
            else:
                branch.on_trial_complete(config[TRIAL_KEY], config, result, error)
        if result and not error and result.get("status") == COMPLETED:
            self.finished[name].append((config, {**result, "trial_id": config[TRIAL_KEY]}))

    def _maybe_queue_replicates(self, name: str) -> None:
        """Once a strategy's search trials have all ended: its best config on the replicate seeds."""
        if self.issued[name] < self.budgets[name] or self._outstanding(name, SEARCH):
            return
        self._release(name, self.budgets[name])  # the search is over: Optuna hears every trial left
        if not self.finished[name]:
            return
        best = best_config(Scored(_key(c), c["seed"], r.get(self.rank_metric, 0.0)) for c, r in self.finished[name])
        config, result = next((c, r) for c, r in self.finished[name] if _key(c) == best)
        source = result["trial_id"]
        # A run whose seed changed nothing (LP on a fixed backbone and split) would repeat its
        # numbers on every other seed: no compute on it, and the tables say "deterministic".
        seeds = [] if result.get("seed_controls") == "" else self.replicate_seeds
        if not seeds and self.replicate_seeds and name not in self.skipped:
            self.skipped[name] = len(self.replicate_seeds)
            if self.on_deterministic is not None:
                self.on_deterministic(name, len(self.replicate_seeds))
        wanted = [{**config, "seed": seed, "stage": REPLICATE, TRIAL_KEY: f"{name}-seed{seed}"} for seed in seeds]
        wanted += [{**template, "seed": config["seed"], "stage": WISE, "source_trial": source,
                    "model": join_uri(self.models_uri, f"{source}.pt"), TRIAL_KEY: f"{template['strategy']}-{source}"}
                   for template in self.derived.get(name, [])]
        queued = {c[TRIAL_KEY] for c in self.queue}
        # A restored sweep already has some of these: ended, or asked and queued again above.
        self.queue += [c for c in wanted if c[TRIAL_KEY] not in self.entries and c[TRIAL_KEY] not in queued]

    def save(self, checkpoint_path: str) -> None:
        # Ray checkpoints its searcher with the experiment; lpft resumes from its ledger instead.
        with open(checkpoint_path, "wb") as f:
            f.write(b"lpft: see the sweep's ledger")

    def restore(self, checkpoint_path: str) -> None:
        raise RuntimeError("an lpft sweep resumes from its ledger, not from Ray's searcher state")
