"""What a sweep leaves: the per-trial table (status, node, wall time, hyperparameters; its footer
the budget and, when a signal stopped the sweep, the signal) and the summary printed at its end,
per strategy, for the config `lpft.best` names, headed by one line when it was interrupted."""

from __future__ import annotations

import json
import math
import signal
import statistics
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from lpft.best import Scored, best_config, config_key, small_val_note, tied_configs
from lpft.dataset import BUDGET_KEY, INTERRUPTED_KEY, write_table
from lpft.results import COMPLETED, DIVERGED, ENDED, ERROR
from lpft.storage import Location
from lpft.sweeps.spec import SweepSpec
from lpft.sweeps.stages import REPLICATE, SEARCH
from lpft.sweeps.trial_row import TrialRow
from lpft.text import PAPER_PAIRS, comparison, format_table, pct

SUMMARY_HEADER = ["strategy", "trials", "diverged", "errors", "best hp", "id_val", "id_test", "ood avg", "seeds"]


@dataclass
class SweepOutcome:
    spec: SweepSpec
    root: Location
    trials: list[TrialRow] = field(default_factory=list)  # the per-trial table's rows
    wall_time_s: float = 0.0
    budgets: dict[str, int] = field(default_factory=dict)  # trials per strategy (launch.trial_budgets)
    interrupted: int | None = None  # the signal that stopped the sweep (SIGINT, SIGTERM), if one did

    @property
    def signal_name(self) -> str | None:
        return None if self.interrupted is None else signal.Signals(self.interrupted).name

    @property
    def exit_status(self) -> int:
        """128 + the signal after an interruption (130, 143, as a shell reports a signalled
        process); else 1 when trials ended in error, 0 for a whole, clean sweep."""
        if self.interrupted is not None:
            return 128 + self.interrupted
        return 1 if self.errors else 0

    def missing(self) -> dict[str, tuple[int, int]]:
        """Per strategy short of its budget: (trials missing, of which cut off while running)."""
        out = {}
        for name, budget in self.budgets.items():
            mine = [t for t in self.trials if t.strategy == name]
            ended = sum(t.status in ENDED for t in mine)
            if ended < budget:
                out[name] = (budget - ended, len(mine) - ended)
        return out

    @property
    def results_dir(self) -> Location:
        return self.root / "results"

    @property
    def errors(self) -> list[TrialRow]:
        """The trials that ended in error (after their retries)."""
        return [t for t in self.trials if t.status == ERROR]


def write_trials_table(path: Location, trials: list[TrialRow], budgets: dict[str, int] | None = None,
                       interrupted: str | None = None) -> None:
    if not trials:
        return
    records = [t.record() for t in trials]
    names = sorted({k for r in records for k in r}, key=lambda k: (k.startswith("hp."), k))
    footer = {BUDGET_KEY: json.dumps(budgets).encode()} if budgets else {}
    if interrupted:
        footer[INTERRUPTED_KEY] = interrupted.encode()
    write_table(pa.Table.from_pylist([{k: r.get(k) for k in names} for r in records]), path, footer)


def _config(trial: TrialRow) -> tuple:
    return config_key(trial.hparams)


def _score(trial: TrialRow, metric: str) -> Scored:
    return Scored(_config(trial), trial.seed or 0, trial.metric(metric) or 0.0)


def best_runs(trials: list[TrialRow], strategy: str, metric: str = "id_val") -> list[TrialRow]:
    """The best config's completed trials, its search trial first, then its replicates ([] if none).

    The candidates are the search and replicate trials; a derived stage (wise) searches nothing,
    so for it they are its own completed trials."""
    done = [t for t in trials if t.strategy == strategy and t.status == COMPLETED]
    candidates = [t for t in done if (t.stage or SEARCH) in (SEARCH, REPLICATE)] or done
    best = best_config(_score(t, metric) for t in candidates)
    runs = [t for t in candidates if _config(t) == best]
    return sorted(runs, key=lambda t: (t.stage or SEARCH) != SEARCH)


def _mean(runs: list[TrialRow], metric: str) -> float:
    values = [v for t in runs if (v := t.metric(metric)) is not None]
    return statistics.fmean(values) if values else math.nan


def selection(trials: list[TrialRow], strategy: str, metric: str = "id_val") -> dict[str, Any] | None:
    """The strategy's selected config as every view names it: its search trial, hyperparameters,
    seeds and seed means (None when it has no completed trial)."""
    runs = best_runs(trials, strategy, metric)
    if not runs:
        return None
    hp = {k: v for k, v in runs[0].hparams.items() if v is not None}
    return {"trial_id": runs[0].trial_id, "params": hp, "seeds": [t.seed or 0 for t in runs],
            **{k: _mean(runs, k) for k in ("id_val", "id_test", "ood_avg")}}


def summary_rows(trials: list[TrialRow], metric: str = "id_val") -> list[list[Any]]:
    """Per strategy: search trials ended (a derived strategy's: its own; diverged, errors), the
    best config (by `metric`), its mean over seeds."""
    rows = []
    for strategy in dict.fromkeys(str(t.strategy) for t in trials):
        ended = [t for t in trials if t.strategy == strategy and t.status in ENDED]
        search = [t for t in ended if t.stage == SEARCH] or [t for t in ended if t.stage not in (SEARCH, REPLICATE)]
        diverged = sum(t.status == DIVERGED for t in search)
        errors = sum(t.status == ERROR for t in trials if t.strategy == strategy)
        runs = best_runs(trials, strategy, metric)
        if not runs:
            rows.append([strategy, len(search), diverged, errors, "-", "-", "-", "-", 0])
            continue
        seeds = f"{len(runs)} (deterministic)" if len(runs) == 1 and runs[0].seed_controls == "" else len(runs)
        rows.append([strategy, len(search), diverged, errors, shown_hparam(strategy, runs[0]),
                     *(pct(_mean(runs, k)) for k in ("id_val", "id_test", "ood_avg")), seeds])
    return rows


def shown_hparam(strategy: str, run: TrialRow) -> str:
    """The hyperparameter the strategy's look names (FT: lr, LP: C at its selected step), as
    "lr 0.105"; "-" when it declares none or the run lacks it."""
    from lpft.strategies import STRATEGIES

    name = STRATEGIES[strategy].display.shown if strategy in STRATEGIES else None
    value = None if name is None else run.hparams.get(name, run.selected.get(name))
    if value is None or isinstance(value, bool):
        return "-"
    return f"{name} {value:.3g}" if isinstance(value, (int, float)) else f"{name} {value}"


def paper_sentence(trials: list[TrialRow], metric: str = "id_val") -> str:
    """"FT vs LP: +x ID, -y OOD; LP-FT vs FT: ..." from the selected configs' seed means."""
    means = {}
    for s in dict.fromkeys(s for pair in PAPER_PAIRS for s in pair):  # the paper's three
        runs = best_runs(trials, s, metric)
        if runs:
            means[s] = (_mean(runs, "id_test"), _mean(runs, "ood_avg"))
    from lpft.strategies import STRATEGIES

    labels = {s: STRATEGIES[s].display.label for s in means if s in STRATEGIES}
    return comparison(means, labels) or "(not enough completed strategies to compare)"


def selection_notes(trials: list[TrialRow], metric: str = "id_val") -> list[str]:
    """What the summary's selection cannot tell: a small ID val set, configs tied with the winner."""
    notes = []
    sizes = [t.n_id_val for t in trials if t.status == COMPLETED and t.n_id_val]
    if metric == "id_val" and sizes and small_val_note(min(sizes)):
        notes.append(small_val_note(min(sizes)))
    for strategy in dict.fromkeys(str(t.strategy) for t in trials):
        done = [t for t in trials if t.strategy == strategy and t.status == COMPLETED
                and (t.stage or SEARCH) in (SEARCH, REPLICATE)]
        tied = tied_configs(_score(t, metric) for t in done)
        if tied:
            notes.append(f"selection tie: {strategy} has {tied} other config{'s' if tied > 1 else ''} at the "
                         f"selected one's {metric}; lpft.best's tie rule (hyperparameters sorted) took it")
    return notes


def interrupted_line(outcome: SweepOutcome, resume: str | None = None) -> str:
    """One line: which signal stopped the sweep, each strategy's trials missing of its budget,
    and the command that completes it (`resume`; `lpft.cli` gives the user's own)."""
    missing = outcome.missing()
    short = ", ".join(f"{name} {n} of {outcome.budgets[name]}" + (f" ({cut} cut off)" if cut else "")
                      for name, (n, cut) in missing.items())
    head = f"== {outcome.spec.name} interrupted ({outcome.signal_name}) after {outcome.wall_time_s:.0f} s"
    if not missing:
        return f"{head}; no trial missing of its budget"
    return f"{head}; trials missing of the budget: {short}; resume with: {resume or 'the same sweep with --resume'}"


def print_outcome(outcome: SweepOutcome, resume: str | None = None, sentence: bool = True) -> None:
    """A sweep's end: where its results are, the per-strategy table, the paper's comparison
    (unless `sentence` is False: the demo prints the analysis's, with intervals); first, when a
    signal stopped it, `interrupted_line` (with the `resume` command)."""
    metric = outcome.spec.metric[0]
    if outcome.interrupted is not None:
        print(interrupted_line(outcome, resume))
    ended = sum(t.status in ENDED for t in outcome.trials)
    print(f"== {outcome.spec.name}: {ended} trials in {outcome.wall_time_s:.0f} s; "
          f"results in {outcome.results_dir}")
    print(format_table(SUMMARY_HEADER, summary_rows(outcome.trials, metric)))
    if sentence:
        print(paper_sentence(outcome.trials, metric))
    for note in selection_notes(outcome.trials, metric):
        print(f"note: {note}")
    if outcome.errors:
        print(f"{len(outcome.errors)} of {ended} trials ended in error:")
        for t in outcome.errors:
            print(f"  [{t.strategy}] {t.trial_id}: {t.error}\n    traceback: {t.traceback}")
