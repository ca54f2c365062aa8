"""The per-trial table (status, node, wall time, hyperparameters) and the sweep's summary table."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pyarrow as pa

from lpft.trainables.sink import atomic_write


def write_trials_table(path: Path, trials: list[dict[str, Any]]) -> None:
    if not trials:
        return
    names = sorted({k for t in trials for k in t}, key=lambda k: (k.startswith("hp."), k))
    atomic_write(pa.Table.from_pylist([{k: t.get(k) for k in names} for t in trials]), path)


def summary_rows(trials: list[dict[str, Any]]) -> list[list[Any]]:
    """Per strategy: trials run (and diverged), the best search config, and its mean over seeds."""
    rows = []
    for strategy in dict.fromkeys(t["strategy"] for t in trials):
        mine = [t for t in trials if t["strategy"] == strategy]
        search = [t for t in mine if t["stage"] == "search"]
        done = [t for t in search if t["status"] == "completed"]
        diverged = sum(t["status"] == "diverged" for t in search)
        if not done:
            rows.append([strategy, len(search), diverged, "-", "-", "-", "-", 0])
            continue
        best = max(done, key=lambda t: t["id_val"])
        hp = {k: v for k, v in best.items() if k.startswith("hp.")}
        seeds = [best] + [t for t in mine if t["stage"] == "replicate" and t["status"] == "completed"
                          and all(t.get(k) == v for k, v in hp.items())]

        def mean(key: str) -> str:
            return f"{100 * statistics.fmean(t[key] for t in seeds):.1f}"

        lr = best.get("hp.lr")
        rows.append([strategy, len(search), diverged, "-" if lr is None else f"{lr:.3g}",
                     mean("id_val"), mean("id_test"), mean("ood_avg"), len(seeds)])
    return rows


SUMMARY_HEADER = ["strategy", "trials", "diverged", "best lr", "id_val", "id_test", "ood avg", "seeds"]
