"""What a sweep leaves: the per-trial table (status, node, wall time, hyperparameters) and the
summary printed at its end, per strategy, for the config `lpft.best` names."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from lpft.best import Scored, best_config, config_key, tied_configs
from lpft.dataset import write_table
from lpft.results import COMPLETED, DIVERGED, ERROR
from lpft.storage import Location
from lpft.sweeps.spec import SweepSpec
from lpft.sweeps.stages import REPLICATE, SEARCH
from lpft.text import comparison, format_table, pct

SUMMARY_HEADER = ["strategy", "trials", "diverged", "errors", "best lr", "id_val", "id_test", "ood avg", "seeds"]


@dataclass
class SweepOutcome:
    spec: SweepSpec
    root: Location
    trials: list[dict[str, Any]] = field(default_factory=list)  # the per-trial table's rows
    wall_time_s: float = 0.0

    @property
    def results_dir(self) -> Location:
        return self.root / "results"

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The trials that ended in error (after their retries)."""
        return [t for t in self.trials if t["status"] == ERROR]


def write_trials_table(path: Location, trials: list[dict[str, Any]]) -> None:
    if not trials:
        return
    names = sorted({k for t in trials for k in t}, key=lambda k: (k.startswith("hp."), k))
    write_table(pa.Table.from_pylist([{k: t.get(k) for k in names} for t in trials]), path)


def _config(trial: dict[str, Any]) -> tuple:
    return config_key({k.removeprefix("hp."): v for k, v in trial.items() if k.startswith("hp.")})


def best_runs(trials: list[dict[str, Any]], strategy: str, metric: str = "id_val") -> list[dict[str, Any]]:
    """The best config's completed trials, its search trial first, then its replicates ([] if none).

    The candidates are the search and replicate trials; a derived stage (wise) searches nothing,
    so for it they are its own completed trials."""
    done = [t for t in trials if t.get("strategy") == strategy and t.get("status") == COMPLETED]
    candidates = [t for t in done if t.get("stage", SEARCH) in (SEARCH, REPLICATE)] or done
    best = best_config(Scored(_config(t), t.get("seed", 0), t.get(metric) or 0.0) for t in candidates)
    runs = [t for t in candidates if _config(t) == best]
    return sorted(runs, key=lambda t: t.get("stage", SEARCH) != SEARCH)


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    values = [t[key] for t in runs if t.get(key) is not None]
    return statistics.fmean(values) if values else math.nan


def selection(trials: list[dict[str, Any]], strategy: str, metric: str = "id_val") -> dict[str, Any] | None:
    """The strategy's selected config as every view names it: its search trial, hyperparameters,
    seeds and seed means (None when it has no completed trial)."""
    runs = best_runs(trials, strategy, metric)
    if not runs:
        return None
    hp = {k.removeprefix("hp."): v for k, v in runs[0].items() if k.startswith("hp.") and v is not None}
    return {"trial_id": runs[0].get("trial_id"), "params": hp, "seeds": [t.get("seed", 0) for t in runs],
            **{k: _mean(runs, k) for k in ("id_val", "id_test", "ood_avg")}}


def summary_rows(trials: list[dict[str, Any]], metric: str = "id_val") -> list[list[Any]]:
    """Per strategy: trials run (diverged, errors), the best config (by `metric`), its mean over seeds."""
    rows = []
    for strategy in dict.fromkeys(t["strategy"] for t in trials):
        search = [t for t in trials if t["strategy"] == strategy and t["stage"] == SEARCH]
        diverged = sum(t["status"] == DIVERGED for t in search)
        errors = sum(t["status"] == ERROR for t in trials if t["strategy"] == strategy)
        runs = best_runs(trials, strategy, metric)
        if not runs:
            rows.append([strategy, len(search), diverged, errors, "-", "-", "-", "-", 0])
            continue
        lr = runs[0].get("hp.lr")
        seeds = f"{len(runs)} (deterministic)" if len(runs) == 1 and runs[0].get("seed_controls") == "" else len(runs)
        rows.append([strategy, len(search), diverged, errors, "-" if lr is None else f"{lr:.3g}",
                     *(pct(_mean(runs, k)) for k in ("id_val", "id_test", "ood_avg")), seeds])
    return rows


def paper_sentence(trials: list[dict[str, Any]], metric: str = "id_val") -> str:
    """"FT vs LP: +x ID, -y OOD; LP-FT vs FT: ..." from the selected configs' seed means."""
    means = {}
    for s in ("lp", "ft", "lpft"):
        runs = best_runs(trials, s, metric)
        if runs:
            means[s] = (_mean(runs, "id_test"), _mean(runs, "ood_avg"))
    return comparison(means) or "(not enough completed strategies to compare)"


SMALL_VAL = 200  # as `lpft analyze` warns (lpft.analysis.caveats)


def selection_notes(trials: list[dict[str, Any]], metric: str = "id_val") -> list[str]:
    """What the summary's selection cannot tell: a small ID val set, configs tied with the winner."""
    notes = []
    sizes = [t["n_id_val"] for t in trials if t.get("status") == COMPLETED and t.get("n_id_val")]
    if metric == "id_val" and sizes and min(sizes) < SMALL_VAL:
        n = min(sizes)
        notes.append(f"small validation set: id_val has {n} examples, so ID val accuracy moves in steps of "
                     f"{pct(1 / n, 2)} points and configs closer than that cannot be told apart")
    for strategy in dict.fromkeys(t["strategy"] for t in trials):
        done = [t for t in trials if t["strategy"] == strategy and t["status"] == COMPLETED
                and t.get("stage", SEARCH) in (SEARCH, REPLICATE)]
        tied = tied_configs(Scored(_config(t), t.get("seed", 0), t.get(metric) or 0.0) for t in done)
        if tied:
            notes.append(f"selection tie: {strategy} has {tied} other config{'s' if tied > 1 else ''} at the "
                         f"selected one's {metric}; lpft.best's tie rule (hyperparameters sorted) took it")
    return notes


def print_outcome(outcome: SweepOutcome) -> None:
    """A finished sweep: where its results are, the per-strategy table, the paper's comparison."""
    metric = outcome.spec.metric[0]
    print(f"== {outcome.spec.name}: {len(outcome.trials)} trials in {outcome.wall_time_s:.0f} s; "
          f"results in {outcome.results_dir}")
    print(format_table(SUMMARY_HEADER, summary_rows(outcome.trials, metric)))
    print(paper_sentence(outcome.trials, metric))
    for note in selection_notes(outcome.trials, metric):
        print(f"note: {note}")
    if outcome.errors:
        print(f"{len(outcome.errors)} of {len(outcome.trials)} trials ended in error:")
        for t in outcome.errors:
            print(f"  [{t['strategy']}] {t['trial_id']}: {t.get('error')}\n    traceback: {t.get('traceback')}")
