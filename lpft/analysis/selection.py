"""Model selection methods, as small named classes in a registry (DomainBed's pattern).

Each picks, within every trial, one step; then, per strategy, the best hyperparameter config by
`lpft.best` (the rule the sweep's searcher and summary use too); it returns that config's trials
at their picked steps. `oracle` selects on OOD accuracy and is labelled so everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from lpft.best import ConfigKey, Scored, best_config, config_key, config_scores, tied_configs
from lpft.looks import Look
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
    # strategy -> (configs tied with its winner, score)
    ties: dict[str, tuple[int, float]] = field(default_factory=dict)
    metric: str = "id_val"  # what configs were ranked on
    deterministic: frozenset[str] = frozenset()  # strategies whose runs' seed changes nothing
    looks: dict[str, Look] = field(default_factory=dict)  # how each is shown (`appearance.looks_for`)


def wide(data: pd.DataFrame | pa.Table | pl.DataFrame, per_step: set[str] | frozenset[str] = frozenset(),
         paths: set[str] | frozenset[str] = frozenset()) -> Points:
    """The (trial, step) table of long results rows; `per_step` and `paths` name the `hp.*`
    columns that vary along a trial (`lpft.dataset.step_hparams`). Every k-th row per eval set
    when the rows are laid out as lpft writes them, else one polars group-by (a million rows:
    0.06 s and 0.09 s, where pandas' pivot_table took 0.45 s)."""
    # from_arrow of a Table is a DataFrame (its stubs say DataFrame | Series)
    df = data if isinstance(data, pl.DataFrame) else cast(pl.DataFrame, pl.from_arrow(data)) \
        if isinstance(data, pa.Table) else pl.from_pandas(data)
    hp = [c for c in df.columns if c.startswith("hp.") and c not in per_step and c != "hp.seed"]
    # Per-step ones (LP's C) are not part of a config, but each point shows its own value.
    steps = [c for c in df.columns if c in per_step and c != "hp.seed"]
    path = [c for c in df.columns if c in paths]
    change = df.select(pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in KEYS])
                       .fill_null(True)).to_series()
    regular = _regular_points(df, change, hp + steps, path[:1])
    if regular is not None:
        grouped, roles = regular
        sets = sorted(roles)
    else:
        first_rows = df.select(pl.col("eval_set").arg_unique())["eval_set"]  # each set's first row
        roles = dict(df.select("eval_set", "role")[first_rows].iter_rows())
        sets = sorted(roles)
        accuracy = pl.col("accuracy")
        columns = [accuracy.filter(pl.col("eval_set") == s).first().alias(s) for s in sets]
        columns += [pl.col(c).first() for c in hp + steps] + [pl.col(c).first().alias("path") for c in path[:1]]
        grouped = _group_points(df, change, columns)
    ood = [s for s in sets if roles[s] == "ood"]
    # More rows than eval sets scored: some evaluation is recorded twice (the pivot keeps the first).
    repeated = grouped.select((pl.col("_rows") > pl.sum_horizontal(pl.col(sets).is_not_null())).sum()).item()
    # A config's label is its hp.* values joined, made once per trial, not per point.
    trials = grouped.unique("trial_id", keep="first", maintain_order=True).select("trial_id", *hp).to_pandas()
    # Rows of to_numpy() are what DataFrame.apply(axis=1) passed (one common dtype), at a tenth the cost.
    labels = pd.Series(["|".join(map(str, r)) for r in trials[hp].to_numpy()] if hp else "", index=trials.index)
    keys = {c: config_key({k.removeprefix("hp."): v for k, v in zip(hp, row)})
            for c, row in zip(labels, trials[hp].itertuples(index=False))}
    config = pl.DataFrame({"trial_id": trials["trial_id"].tolist(), "config": labels.astype(str).tolist()},
                          schema={"trial_id": grouped.schema["trial_id"], "config": pl.String})
    # The mean over every OOD set, or NaN: an average over the sets a damaged or merged folder
    # happens to hold at one step is another quantity, never comparable with the other steps'.
    ood_avg = (pl.when(pl.any_horizontal([pl.col(s).is_null() for s in ood])).then(float("nan"))
               .otherwise(pl.mean_horizontal(ood))) if ood else pl.lit(float("nan"))
    out = (grouped.drop("_rows").join(config, on="trial_id", how="left", maintain_order="left")
           .select(*KEYS, *sets, ood_avg.alias("ood_avg"), "config", *hp, *steps, *(["path"] if path else []))
           ).to_pandas()
    out["config"] = out["config"].astype(object)
    return Points(out, ood, keys, repeated)


def _regular_points(df: pl.DataFrame, change: pl.Series, extra: list[str],
                    path: list[str]) -> tuple[pl.DataFrame, dict[str, str]] | None:
    """`_group_points` without a group-by, and each eval set's role, when every point's rows are
    together and score the same eval sets in the same order (as lpft writes them): each set's
    accuracy is every k-th row. None for any other layout."""
    n = df.height
    starts = change.arg_true().to_numpy()
    k = int(starts[1]) if len(starts) > 1 else n
    if not n or k * len(starts) != n or (len(starts) > 1 and (np.diff(starts) != k).any()):
        return None
    first = df.slice(0, k)
    names = first["eval_set"].to_list()
    if None in names or len(set(names)) != k:
        return None
    eval_set = df["eval_set"]
    if not all(eval_set.gather_every(k, j).eq_missing(name).all() for j, name in enumerate(names)):
        return None
    accuracy = df["accuracy"]
    points = df.select(*KEYS, *extra, *[pl.col(c).alias("path") for c in path]).gather_every(k).with_columns(
        *[accuracy.gather_every(k, j).alias(name) for j, name in enumerate(names)], pl.lit(k, pl.UInt32).alias("_rows"))
    if points.select(pl.struct(KEYS).is_duplicated().any()).item():
        return None  # a point's rows apart (runs that share keys): the group-by sorts that out
    return points, dict(zip(names, first["role"].to_list()))


def _group_points(df: pl.DataFrame, change: pl.Series, columns: list[pl.Expr]) -> pl.DataFrame:
    """`columns` aggregated per (trial, step) point, in the rows' order (files as listed, steps as
    each trial wrote them), with `_rows` counted. lpft writes each point's rows together, so a
    point is a run of equal keys (`change` marks each run's first row): grouping by the run's
    number (sorted integers) is ~2x faster than hashing the string keys. Should a point's rows be
    apart (files joined by hand), its runs would share keys: then the hash group-by, which is
    right for any order."""
    runs = (df.with_columns(change.cast(pl.UInt32).cum_sum().alias("_run").set_sorted())
            .group_by("_run", maintain_order=True)
            .agg(*[pl.col(k).first() for k in KEYS], *columns, pl.len().alias("_rows")).drop("_run"))
    if not runs.select(pl.struct(KEYS).is_duplicated().any()).item():
        return runs
    return df.group_by(KEYS, maintain_order=True).agg(*columns, pl.len().alias("_rows"))


def best_per_trial(w: pd.DataFrame, score: np.ndarray) -> pd.DataFrame:
    """Each trial's row of highest `score` (a NaN only if all are; a tie: the earliest step, then
    the first row), ordered by trial_id. Segment reductions over the points grouped by trial (a
    stable integer sort, no work when each trial's points are together, as `wide` leaves them):
    a lexsort of every point on four keys cost three times as much."""
    if not len(w):
        return w.iloc[:0]
    trial = pd.factorize(w["trial_id"])[0]
    order = np.argsort(trial, kind="stable")
    t, s, step = trial[order], np.asarray(score, float)[order], w["step"].to_numpy()[order]
    new = np.r_[True, t[1:] != t[:-1]]
    starts, seg = np.flatnonzero(new), np.cumsum(new) - 1
    valid = ~np.isnan(s)
    top = np.maximum.reduceat(np.where(valid, s, -np.inf), starts)
    # The highest valid score; a trial with none keeps all its rows (NaN) as candidates.
    candidate = np.where(np.logical_or.reduceat(valid, starts)[seg], valid & (s == top[seg]), True)
    earliest = np.minimum.reduceat(np.where(candidate, step, np.iinfo(np.int64).max), starts)
    picked = np.flatnonzero(candidate & (step == earliest[seg]))
    firsts = picked[np.r_[True, seg[picked][1:] != seg[picked][:-1]]]
    return w.iloc[order[firsts]].sort_values("trial_id", kind="stable")


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
        winners, ties = set(), {}
        for strategy, group in picked.groupby("strategy"):
            # every config label has its key (`wide` made both), and a group has a row: a best
            scored = [Scored(points.configs[c], int(s), float(v)) for c, s, v in
                      zip(group["config"], group["seed"], group[self.config_metric])]
            best = best_config(scored)
            assert best is not None  # scored is not empty
            ties[str(strategy)] = (tied_configs(scored), config_scores(scored)[best])
            winners |= {(strategy, c) for c in group["config"].unique() if points.configs[c] == best}
        mask = [(s, c) in winners for s, c in zip(picked["strategy"], picked["config"])]
        chosen = picked[mask].reset_index(drop=True)
        return Chosen(chosen, points.ood_sets, self.label, ties, self.config_metric)


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


def selected_rows(paths: list[str], frame: pd.DataFrame, columns: list[str], sweep: str | None = None
                  ) -> pd.DataFrame | None:
    """`columns` (with strategy, trial_id, step) of the selected models' own plain evaluations
    (`frame`: one row per seed, at its selected step), read from those trials' files alone (the
    full load leaves the list columns out); None for strategies compared across sweeps or where
    the files hold none. `sweep`: its rows alone (two sweeps each have an ft-000)."""
    from lpft.dataset import read_trial_rows
    from lpft.results import PLAIN

    if frame.empty or frame.strategy.str.contains("/").any():
        return None
    trials = sorted(set(zip(frame.strategy.astype(str), frame.trial_id.astype(str))))
    table = read_trial_rows(paths, trials, ["trial_id", "step", "eval_set", "adapt", *columns], sweep)
    if not table.num_rows:
        return None
    rows = table.to_pandas()
    return rows[rows.adapt.fillna(PLAIN) == PLAIN].merge(frame[["strategy", "trial_id", "step"]],
                                                         on=["strategy", "trial_id", "step"])
