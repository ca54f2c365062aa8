"""The paper's selection recomputed from a sweep's Parquet rows with pandas alone, apart from
lpft's own code: the tests' independent answer to "which models, and what do they score".

Each trial's best ID val step (the earliest on ties), each strategy's config with the best mean
ID val over the seeds all its configs ran (a tie to the smallest searched hyperparameters),
then that config's trials. Plain (not BatchNorm-adapted) rows only.
"""

from __future__ import annotations

import pandas as pd

SEARCHED = ("hp.lr", "hp.probe_epochs")  # what sweeps search: a config is these values


def selected(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """strategy -> its chosen trials, one row each (their best step), a column per eval set and
    `ood_avg` (the mean over every OOD set)."""
    if "adapt" in rows:
        rows = rows[rows.adapt.fillna("none") == "none"]
    wide = rows.pivot_table(index=["strategy", "trial_id", "seed", "step"], columns="eval_set",
                            values="accuracy", aggfunc="first").reset_index()
    ood = sorted(rows.loc[rows.role == "ood", "eval_set"].unique())
    wide["ood_avg"] = wide[ood].mean(axis=1, skipna=False)
    searched = [c for c in SEARCHED if c in rows]
    config = rows.groupby("trial_id")[searched].first().fillna(-1).apply(tuple, axis=1)
    wide["config"] = wide.trial_id.map(config)
    best = wide.sort_values(["trial_id", "id_val", "step"], ascending=[True, False, True]).groupby("trial_id").head(1)
    out = {}
    for strategy, group in best.groupby("strategy"):
        common = set.intersection(*(set(g.seed) for _, g in group.groupby("config")))
        scores = group[group.seed.isin(common)].groupby("config").id_val.mean()
        top = scores.max()
        winner = min(c for c, v in scores.items() if v == top)
        out[str(strategy)] = group[group.config == winner]
    return out


def table_means(csv: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(strategy, column) -> the mean `lpft analyze` wrote to table.csv."""
    return {(r.strategy, c.removesuffix("_mean")): getattr(r, c) for r in csv.itertuples()
            for c in csv.columns if c.endswith("_mean")}
