"""Calibration of the selected models: ECE, NLL and Brier (raw and temperature-scaled) per
strategy and eval set, with the same intervals over seeds as accuracy.

The models are the ones the selection chose for the accuracy table (the same trials at the same
steps); their rows' calibration columns (`lpft.calibration`, results schema version 2) are read
per eval set. `ood_avg` is each model's mean over the OOD sets, then the mean over seeds, as for
accuracy. A value that could not be computed is left out of its cell and counted in a note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd
import polars as pl

from lpft.analysis.intervals import LEVEL, METHODS, Estimate, mean_interval
from lpft.analysis.selection import KEYS, Chosen
from lpft.analysis.tables import strategy_order
from lpft.calibration import COLUMNS, METRICS, TS
from lpft.text import format_table


@dataclass(frozen=True)
class Shown:
    """How a metric is printed: its label and unit, scale and decimals."""

    label: str
    scale: float
    digits: int


SHOWN = {"ece": Shown("ECE %", 100, 1), "ece_mass": Shown("ECE % (100 equal-mass bins)", 100, 1),
         "ce_l2": Shown("debiased L2 CE %", 100, 1), "nll": Shown("NLL", 1, 3), "brier": Shown("Brier", 1, 3)}
IN_TEXT = ("ece", "nll", "brier")  # the console's and report's rows; the CSV has every metric


@dataclass
class Calibration:
    """Per (strategy, metric, eval set) an Estimate over the selected models' seeds."""

    sets: list[str]  # the eval sets, then ood_avg
    cells: dict[tuple[str, str], dict[str, Estimate]]  # (strategy, metric) -> eval set -> estimate
    missing: int  # selected models' evaluations without calibration values
    untempered: int  # ... with values but no temperature (none could be fit on ID val)
    evaluations: int


def calibration_summary(frame: pl.DataFrame, chosen: Chosen, ci: str = "t") -> Calibration | None:
    """The selected models' calibration from the plain rows `frame`; None when the results carry
    no calibration (files written before results schema version 2)."""
    if "ece" not in frame.columns or chosen.frame.empty:
        return None
    keys = pl.from_pandas(chosen.frame[KEYS]).cast({k: frame.schema[k] for k in KEYS})
    rows = (frame.join(keys, on=KEYS, how="semi").select(*KEYS, "eval_set", "role", *COLUMNS).to_pandas())
    if rows["ece"].isna().all():
        return None
    sets = list(dict.fromkeys(["id_val", "id_test", *[s for s in rows.eval_set.unique() if s not in
                                                      ("id_val", "id_test") and s in chosen.ood_sets]]))
    sets = [s for s in sets if s in set(rows.eval_set)]
    ood = [s for s in sets if s in chosen.ood_sets]
    cells: dict[tuple[str, str], dict[str, Estimate]] = {}
    for strategy in strategy_order(list(rows.strategy.unique()), chosen.looks or None):
        mine = rows[rows.strategy == strategy]
        for metric in [m + suffix for m in METRICS for suffix in ("", TS)]:
            table = mine.pivot_table(index=["trial_id", "seed", "step"], columns="eval_set", values=metric,
                                     aggfunc="first", dropna=False)
            row = {s: mean_interval(table[s].to_numpy(float) if s in table else [], ci) for s in sets}
            # Each model's OOD mean only where it has every OOD set, as accuracy's ood_avg.
            per_model = table[ood].mean(axis=1, skipna=False) if ood and set(ood) <= set(table) else pd.Series([])
            row["ood_avg"] = mean_interval(per_model.to_numpy(float), ci)
            if strategy in chosen.deterministic:  # no spread because none is possible: say so, as accuracy
                row = {c: replace(e, why="deterministic") if e.why in ("one seed", "identical") else e
                       for c, e in row.items()}
            cells[(str(strategy), metric)] = row
    missing = int(rows["ece"].isna().sum())
    untempered = int((rows["ece"].notna() & rows["temperature"].isna()).sum())
    return Calibration([*sets, "ood_avg"], cells, missing, untempered, len(rows))


def cell(e: Estimate, shown: Shown) -> str:
    """As the accuracy table's cells (`tables.cell_text`): `0.512 ± 0.031`, or the mean alone with
    why there is no interval (`(identical)`, `(deterministic)`; nothing for one seed)."""
    if math.isnan(e.mean):
        return "–"
    mean = f"{e.mean * shown.scale:.{shown.digits}f}"
    if not math.isnan(e.half):
        return f"{mean} ± {e.half * shown.scale:.{shown.digits}f}"
    return mean + (f" ({e.why})" if e.why in ("identical", "deterministic") else "")


def render_calibration(cal: Calibration, ci: str = "t") -> str:
    """The console's and report's table: ECE, NLL and Brier per strategy, each raw and after
    temperature scaling (TS), over the eval sets."""
    header = ["strategy", "metric", *cal.sets]
    head = (f"calibration of the selected models (mean ± {LEVEL:.0%} CI over seeds, {METHODS[ci].label}; "
            "ECE: 15 equal-width bins; TS: temperature-scaled on ID val; lower is better):")
    return head + "\n" + format_table(header, calibration_rows(cal), left=2)


def calibration_rows(cal: Calibration) -> list[list[str]]:
    """[strategy, metric label, cell per eval set] for ECE, NLL and Brier, each raw then TS."""
    rows = []
    for (strategy, metric), row in cal.cells.items():
        base = metric.removesuffix(TS)
        if base in IN_TEXT:
            shown = SHOWN[base]
            rows.append([strategy, shown.label + (" TS" if metric.endswith(TS) else ""),
                         *[cell(row[s], shown) for s in cal.sets]])
    return rows


def calibration_notes(cal: Calibration) -> list[str]:
    notes = []
    if cal.missing:
        notes.append(f"calibration: {cal.missing} of the selected models' {cal.evaluations} evaluations have no "
                     "value (logits not all finite, or a label outside the classes scored); left out of the table")
    if cal.untempered:
        notes.append(f"calibration: {cal.untempered} of the selected models' {cal.evaluations} evaluations have no "
                     "temperature-scaled values (no temperature could be fit on ID val: every ID val example "
                     "right, or the fit did not converge)")
    return notes


def calibration_frame(cal: Calibration) -> pd.DataFrame:
    """calibration.csv: one row per strategy, metric and eval set, every metric."""
    return pd.DataFrame([{"strategy": s, "metric": m, "eval_set": name, "mean": e.mean, "n": e.n, "sd": e.sd,
                          f"ci{100 * LEVEL:.0f}_half": e.half, "note": e.why}
                         for (s, m), row in cal.cells.items() for name, e in row.items()])
