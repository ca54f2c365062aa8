"""Model selection methods, as small named classes in a registry (DomainBed's pattern).

Each picks, within every trial, one step; then, per strategy, the best hyperparameter config by
`lpft.best` (the rule the sweep's searcher and summary use too); it returns that config's trials
at their picked steps. `oracle` selects on OOD accuracy and is labelled so everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from lpft.best import ConfigKey, Scored, best_config, config_key
from lpft.registry import Registry

KEYS = ["strategy", "trial_id", "seed", "step"]


@dataclass
class Points:
    """One row per (trial, step): accuracy per eval set as columns, id_val, id_test, ood_avg, the
    trial's `config` (its hyperparameters but the seed and per-step ones) and, for a trial whose
    steps are an interpolation path, `path` (e.g. WiSE's alpha)."""

    frame: pd.DataFrame
    ood_sets: list[str]
    configs: dict[str, ConfigKey] = field(default_factory=dict)  # config string -> `lpft.best` key
    repeated: int = 0  # (trial, step) points with an eval set scored more than once (`load_results`' check)


@dataclass
class Chosen:
    """The selected models: per strategy, its best config's trials at their picked steps."""

    frame: pd.DataFrame
    ood_sets: list[str]
    label: str  # the selection method, as tables and plots name it


def wide(data: pd.DataFrame | pa.Table | pl.DataFrame, per_step: set[str] | frozenset[str] = frozenset(),
         paths: set[str] | frozenset[str] = frozenset()) -> Points:
    """The (trial, step) table of long results rows; `per_step` and `paths` name the `hp.*`
    columns that vary along a trial (`lpft.dataset.step_hparams`). One polars group-by (a
    million rows: ~0.1 s, where pandas' pivot_table took 0.45 s)."""
    df = data if isinstance(data, pl.DataFrame) else pl.from_arrow(data) if isinstance(data, pa.Table) else \
        pl.from_pandas(data)
    first_rows = df.select(pl.col("eval_set").arg_unique())["eval_set"]  # each set's first row
    roles = dict(df.select("eval_set", "role")[first_rows].iter_rows())
    sets = sorted(roles)
    ood = [s for s in sets if roles[s] == "ood"]
    hp = [c for c in df.columns if c.startswith("hp.") and c not in per_step and c != "hp.seed"]
    # Per-step ones (LP's C) are not part of a config, but each point shows its own value.
    steps = [c for c in df.columns if c in per_step and c != "hp.seed"]
    path = [c for c in df.columns if c in paths]
    accuracy = pl.col("accuracy")
    columns = [accuracy.filter(pl.col("eval_set") == s).first().alias(s) for s in sets]
    columns += [pl.col(c).first() for c in hp + steps] + [pl.col(c).first().alias("path") for c in path[:1]]
    grouped = _group_points(df, columns)
    # More rows than eval sets scored: some evaluation is recorded twice (the pivot keeps the first).
    repeated = grouped.select((pl.col("_rows") > pl.sum_horizontal(pl.col(sets).is_not_null())).sum()).item()
    # A config's label is its hp.* values joined, made once per trial, not per point.
    trials = grouped.unique("trial_id", keep="first", maintain_order=True).select("trial_id", *hp).to_pandas()
    labels = trials[hp].apply(lambda r: "|".join(map(str, r)), axis=1) if hp else pd.Series("", index=trials.index)
    keys = {c: config_key({k.removeprefix("hp."): v for k, v in zip(hp, row)})
            for c, row in zip(labels, trials[hp].itertuples(index=False))}
    config = pl.DataFrame({"trial_id": trials["trial_id"].tolist(), "config": labels.astype(str).tolist()},
                          schema={"trial_id": grouped.schema["trial_id"], "config": pl.String})
    ood_avg = pl.mean_horizontal(ood) if ood else pl.lit(float("nan"))
    out = (grouped.drop("_rows").join(config, on="trial_id", how="left", maintain_order="left")
           .select(*KEYS, *sets, ood_avg.alias("ood_avg"), "config", *hp, *steps, *(["path"] if path else []))).to_pandas()
    out["config"] = out["config"].astype(object)
    return Points(out, ood, keys, repeated)


def _group_points(df: pl.DataFrame, columns: list[pl.Expr]) -> pl.DataFrame:
    """`columns` aggregated per (trial, step) point, in the rows' order (files as listed, steps as
    each trial wrote them), with `_rows` counted. lpft writes each point's rows together, so a
    point is a run of equal keys: grouping by the run's number (sorted integers) is ~2x faster
    than hashing the string keys. Should a point's rows be apart (files joined by hand), its runs
    would share keys: then the hash group-by, which is right for any order."""
    change = pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in KEYS]).fill_null(True)
    runs = (df.with_columns(change.cast(pl.UInt32).cum_sum().alias("_run").set_sorted())
            .group_by("_run", maintain_order=True)
            .agg(*[pl.col(k).first() for k in KEYS], *columns, pl.len().alias("_rows")).drop("_run"))
    if not runs.select(pl.struct(KEYS).is_duplicated().any()).item():
        return runs
    return df.group_by(KEYS, maintain_order=True).agg(*columns, pl.len().alias("_rows"))


def best_per_trial(w: pd.DataFrame, score: np.ndarray) -> pd.DataFrame:
    """Each trial's row of highest `score` (a NaN only if all are; a tie: the earliest step),
    ordered by trial_id. One lexsort of integer keys: sorting the string trial_id of every point
    cost four times as much."""
    trial = pd.factorize(w["trial_id"])[0]
    missing = np.isnan(score)
    order = np.lexsort((w["step"].to_numpy(), np.where(missing, 0.0, -score), missing, trial))
    sorted_trials = trial[order]
    firsts = order[np.r_[True, sorted_trials[1:] != sorted_trials[:-1]]] if len(order) else order
    return w.iloc[firsts].sort_values("trial_id", kind="stable")


class Selection:
    name = ""
    label = ""
    step_metric = "id_val"  # picks the step within a trial
    config_metric = "id_val"  # picks the config among configs (`lpft.best`)

    def pick_steps(self, w: pd.DataFrame) -> pd.DataFrame:
        return best_per_trial(w, w[self.step_metric].to_numpy(float))

    def select(self, df: pd.DataFrame) -> Chosen:
        return self.select_points(wide(df))

    def select_points(self, points: Points) -> Chosen:
        """`select` on the (trial, step) table `wide` already made (the analysis reuses it for frontiers)."""
        picked = self.pick_steps(points.frame)
        winners = set()
        for strategy, group in picked.groupby("strategy"):
            best = best_config(Scored(points.configs.get(c, ()), int(s), float(v)) for c, s, v in
                               zip(group["config"], group["seed"], group[self.config_metric]))
            winners |= {(strategy, c) for c in group["config"].unique() if points.configs.get(c, ()) == best}
        mask = [(s, c) in winners for s, c in zip(picked["strategy"], picked["config"])]
        chosen = picked[mask].reset_index(drop=True)
        return Chosen(chosen, points.ood_sets, self.label)


SELECTIONS: Registry[type[Selection]] = Registry("selection method")


@SELECTIONS.register("id_val")
class IdValSelection(Selection):
    """The paper's: best ID val step per trial, best ID val config (`lpft.best`)."""

    name, label = "id_val", "ID val"


@SELECTIONS.register("oracle")
class OracleSelection(Selection):
    """Selects on the OOD average: an upper bound, never a fair comparison."""

    name, label = "oracle", "oracle (selected on OOD)"
    step_metric = config_metric = "ood_avg"


@SELECTIONS.register("last")
class LastStepSelection(Selection):
    """The final step of every trial; configs by ID val there."""

    name, label = "last", "last step"

    def pick_steps(self, w: pd.DataFrame) -> pd.DataFrame:
        return best_per_trial(w, w["step"].to_numpy(float))
