"""Model selection methods, as small named classes in a registry (DomainBed's pattern).

Each picks, within every trial, one step; then, per strategy, the hyperparameter
config with the best mean over seeds; it returns that config's trials at their
picked steps. `oracle` selects on OOD accuracy and is labelled so everywhere.
"""

from __future__ import annotations

import pandas as pd

from lpft.registry import Registry

# Hyperparameters that vary along one trial (LP's C) or name the replicate: not part of a config.
NOT_CONFIG = ("hp.C", "hp.alpha", "hp.seed")  # per-step values and the seed are not the config
PATH_COLUMN = "hp.alpha"  # a per-step interpolation weight: the trial's steps are a path, drawn as a curve


def wide(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (trial, step): accuracy per eval set as columns, plus id_val, id_test and ood_avg."""
    keys = ["strategy", "trial_id", "seed", "step"]
    acc = df.pivot_table(index=keys, columns="eval_set", values="accuracy", aggfunc="first")
    roles = df.drop_duplicates("eval_set").set_index("eval_set")["role"]
    ood = [c for c in acc.columns if roles.get(c) == "ood"]
    acc["ood_avg"] = acc[ood].mean(axis=1) if ood else float("nan")
    hp = [c for c in df.columns if c.startswith("hp.") and c not in NOT_CONFIG]
    configs = df.drop_duplicates("trial_id").set_index("trial_id")[hp]
    configs["config"] = configs.apply(lambda r: "|".join(map(str, r)), axis=1) if hp else ""
    out = acc.reset_index().merge(configs[["config"]], left_on="trial_id", right_index=True)
    if PATH_COLUMN in df.columns:
        path = df.groupby(keys)[PATH_COLUMN].first().rename("path")
        out = out.merge(path, left_on=keys, right_index=True, how="left")
    out.attrs["ood_sets"] = ood
    return out


class Selection:
    name = ""
    label = ""
    step_metric = "id_val"  # picks the step within a trial
    config_metric = "id_val"  # picks the config among configs (mean over seeds)

    def pick_steps(self, w: pd.DataFrame) -> pd.DataFrame:
        order = w.sort_values(["trial_id", self.step_metric, "step"], ascending=[True, False, True])
        return order.drop_duplicates("trial_id")

    def select(self, df: pd.DataFrame) -> pd.DataFrame:
        return self.select_wide(wide(df))

    def select_wide(self, w: pd.DataFrame) -> pd.DataFrame:
        """`select` on the (trial, step) table `wide` already made (the analysis reuses it for frontiers)."""
        picked = self.pick_steps(w)
        means = picked.groupby(["strategy", "config"])[self.config_metric].mean().reset_index()
        best = means.sort_values(["strategy", self.config_metric], ascending=[True, False]).drop_duplicates("strategy")
        chosen = picked.merge(best[["strategy", "config"]], on=["strategy", "config"])
        chosen.attrs["ood_sets"] = w.attrs["ood_sets"]
        chosen.attrs["selection"] = self.label
        return chosen


SELECTIONS: Registry[type[Selection]] = Registry("selection method")


@SELECTIONS.register("id_val")
class IdValSelection(Selection):
    """The paper's: best ID val step per trial, best mean ID val config."""

    name, label = "id_val", "ID val"


@SELECTIONS.register("oracle")
class OracleSelection(Selection):
    """Selects on the OOD average: an upper bound, never a fair comparison."""

    name, label = "oracle", "oracle (selected on OOD)"
    step_metric = config_metric = "ood_avg"


@SELECTIONS.register("last")
class LastStepSelection(Selection):
    """The final step of every trial; configs by mean ID val there."""

    name, label = "last", "last step"

    def pick_steps(self, w: pd.DataFrame) -> pd.DataFrame:
        return w.sort_values(["trial_id", "step"]).drop_duplicates("trial_id", keep="last")
