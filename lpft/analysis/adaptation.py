"""What test-time BatchNorm adaptation changes: plain vs adapted accuracy of the selected models.

Adapted scores are rows with `adapt = "bn"` (see lpft.results.Evaluation); they never enter
the selection, the tables or the frontiers, which use the plain rows. This table puts the
two side by side, per strategy and eval set, averaged over the selected models' seeds.
"""

from __future__ import annotations

import pandas as pd
import polars as pl

from lpft.analysis.selection import wide
from lpft.results import PLAIN
from lpft.text import format_table


def split_adapted(frame: pl.DataFrame) -> tuple[pl.DataFrame, pd.DataFrame]:
    """(plain rows without `adapt`, adapted rows); results written before the `adapt` column are all plain."""
    if "adapt" not in frame.columns:
        return frame, pd.DataFrame(columns=frame.columns)
    plain = pl.col("adapt").fill_null(PLAIN) == PLAIN
    if frame.select(plain.all()).item():  # the usual case: no filtered copy of a million rows
        return frame.drop("adapt"), pd.DataFrame(columns=frame.columns)
    return frame.filter(plain).drop("adapt"), frame.filter(~plain).to_pandas()


def adaptation_table(chosen: pd.DataFrame, adapted: pd.DataFrame) -> pd.DataFrame:
    """strategy, eval_set, adapt, plain, adapted, delta for the selected (trial, step) models."""
    if adapted.empty:
        return pd.DataFrame(columns=["strategy", "eval_set", "adapt", "plain", "adapted", "delta"])
    rows = []
    for mode, part in adapted.groupby("adapt"):
        w = wide(part.drop(columns="adapt")).frame
        merged = chosen.merge(w, on=["strategy", "trial_id", "seed", "step"], suffixes=("", "@adapted"))
        for strategy, group in merged.groupby("strategy"):
            accuracy_columns = [c for c in w.columns if c not in ("step", "seed", "path")
                                and pd.api.types.is_float_dtype(w[c]) and f"{c}@adapted" in merged.columns]
            for col in accuracy_columns:
                plain, after = group[col].mean(), group[f"{col}@adapted"].mean()
                rows.append({"strategy": strategy, "eval_set": col, "adapt": mode, "plain": plain,
                             "adapted": after, "delta": after - plain})
    return pd.DataFrame(rows)


def render_adaptation(table: pd.DataFrame) -> str:
    if table.empty:
        return ""
    rows = [[r.strategy, r.eval_set, f"{100 * r.plain:.1f}", f"{100 * r.adapted:.1f}", f"{100 * r.delta:+.1f}"]
            for r in table.itertuples()]
    head = "test-time BatchNorm adaptation (AdaBN) of the selected models, accuracy %:"
    return head + "\n" + format_table(["strategy", "eval set", "plain", "bn-adapted", "change"], rows)
