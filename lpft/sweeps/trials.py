"""The per-trial table (status, node, wall time, hyperparameters) and the sweep's summary table."""

from __future__ import annotations

import statistics
from typing import Any

import pyarrow as pa

from lpft.storage import Location
from lpft.text import comparison
from lpft.trainables.sink import write_table


def write_trials_table(path: Location, trials: list[dict[str, Any]]) -> None:
    if not trials:
        return
    names = sorted({k for t in trials for k in t}, key=lambda k: (k.startswith("hp."), k))
    write_table(pa.Table.from_pylist([{k: t.get(k) for k in names} for t in trials]), path)


def best_runs(trials: list[dict[str, Any]], strategy: str) -> list[dict[str, Any]]:
    """The best search trial by ID val, then its replicates on other seeds ([] if none completed)."""
    mine = [t for t in trials if t["strategy"] == strategy]
    done = [t for t in mine if t["stage"] == "search" and t["status"] == "completed"]
    if not done:  # a derived stage (wise) searches nothing: its best completed trial
        done = [t for t in mine if t["status"] == "completed" and t["stage"] != "replicate"]
    if not done:
        return []
    best = max(done, key=lambda t: t["id_val"])
    hp = {k: v for k, v in best.items() if k.startswith("hp.")}
    return [best] + [t for t in mine if t["stage"] == "replicate" and t["status"] == "completed"
                     and all(t.get(k) == v for k, v in hp.items())]


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.fmean(t[key] for t in runs)


def summary_rows(trials: list[dict[str, Any]]) -> list[list[Any]]:
    """Per strategy: trials run (and diverged), the best search config, and its mean over seeds."""
    rows = []
    for strategy in dict.fromkeys(t["strategy"] for t in trials):
        search = [t for t in trials if t["strategy"] == strategy and t["stage"] == "search"]
        diverged = sum(t["status"] == "diverged" for t in search)
        runs = best_runs(trials, strategy)
        if not runs:
            rows.append([strategy, len(search), diverged, "-", "-", "-", "-", 0])
            continue
        lr = runs[0].get("hp.lr")
        rows.append([strategy, len(search), diverged, "-" if lr is None else f"{lr:.3g}",
                     *(f"{100 * _mean(runs, k):.1f}" for k in ("id_val", "id_test", "ood_avg")), len(runs)])
    return rows


def paper_sentence(trials: list[dict[str, Any]]) -> str:
    """"FT vs LP: +x ID, -y OOD; LP-FT vs FT: ..." from the selected configs' seed means."""
    means = {}
    for s in ("lp", "ft", "lpft"):
        runs = best_runs(trials, s)
        if runs:
            means[s] = (_mean(runs, "id_test"), _mean(runs, "ood_avg"))
    return comparison(means) or "(not enough completed strategies to compare)"


SUMMARY_HEADER = ["strategy", "trials", "diverged", "best lr", "id_val", "id_test", "ood avg", "seeds"]
