"""Model selection methods, as small named classes in a registry (DomainBed's pattern).

Each picks, within every trial, one step; then, per strategy, the best hyperparameter config by
`lpft.best` (the rule the sweep's searcher and summary use too); it returns that config's trials
at their picked steps. `oracle` selects on OOD accuracy and is labelled so everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

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


@dataclass
class Chosen:
    """The selected models: per strategy, its best config's trials at their picked steps."""

    frame: pd.DataFrame
    ood_sets: list[str]
    label: str  # the selection method, as tables and plots name it


def wide(df: pd.DataFrame, per_step: set[str] | frozenset[str] = frozenset(),
         paths: set[str] | frozenset[str] = frozenset()) -> Points:
    """The (trial, step) table of long results rows; `per_step` and `paths` name the `hp.*`
    columns that vary along a trial (`lpft.dataset.step_hparams`)."""
    acc = df.pivot_table(index=KEYS, columns="eval_set", values="accuracy", aggfunc="first")
    roles = df.drop_duplicates("eval_set").set_index("eval_set")["role"]
    ood = [c for c in acc.columns if roles.get(c) == "ood"]
    acc["ood_avg"] = acc[ood].mean(axis=1) if ood else float("nan")
    hp = [c for c in df.columns if c.startswith("hp.") and c not in per_step and c != "hp.seed"]
    configs = df.drop_duplicates("trial_id").set_index("trial_id")[hp]
    configs["config"] = configs.apply(lambda r: "|".join(map(str, r)), axis=1) if hp else ""
    keys = {c: config_key({k.removeprefix("hp."): v for k, v in zip(hp, row)})
            for c, row in zip(configs["config"], configs[hp].itertuples(index=False))}
    out = acc.reset_index().merge(configs[["config", *hp]], left_on="trial_id", right_index=True)
    path = [c for c in df.columns if c in paths]
    if path:
        steps = df.groupby(KEYS)[path[0]].first().rename("path")
        out = out.merge(steps, left_on=KEYS, right_index=True, how="left")
    return Points(out, ood, keys)


class Selection:
    name = ""
    label = ""
    step_metric = "id_val"  # picks the step within a trial
    config_metric = "id_val"  # picks the config among configs (`lpft.best`)

    def pick_steps(self, w: pd.DataFrame) -> pd.DataFrame:
        order = w.sort_values(["trial_id", self.step_metric, "step"], ascending=[True, False, True])
        return order.drop_duplicates("trial_id")

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
        return w.sort_values(["trial_id", "step"]).drop_duplicates("trial_id", keep="last")
