"""Calibration of the selected models: ECE, NLL and Brier (raw and temperature-scaled) per
strategy and eval set, with the same intervals over seeds as accuracy.

The models are the ones the selection chose for the accuracy table (the same trials at the same
steps); their rows' calibration columns (`lpft.calibration`, results schema version 2) are read
per eval set. `ood_avg` is each model's mean over the OOD sets, then the mean over seeds, as for
accuracy. A value that could not be computed is left out of its cell and counted in a note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import polars as pl

from lpft.analysis.intervals import LEVEL, METHODS, Estimate, mean_interval
from lpft.analysis.selection import KEYS, Chosen, selected_rows
from lpft.analysis.tables import strategy_order
from lpft.calibration import COLUMNS, METRICS, RELIABILITY, TS, WIDTH_BINS
from lpft.looks import Look
from lpft.text import PAPER_PAIRS, format_table, shown_difference


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
    # In the accuracy table's order: ID val (what the temperature is fit on), ID test, the OOD sets.
    sets = [s for s in ["id_val", "id_test", *chosen.ood_sets] if s in set(rows.eval_set)]
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
        half = e.half * shown.scale
        # A real but narrow interval keeps one significant digit: never `± 0.0` for runs that differ.
        places = shown.digits if round(half, shown.digits) > 0 or half == 0 else -math.floor(math.log10(half))
        return f"{mean} ± {half:.{places}f}"
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


def reliability_bins(paths: list[str], chosen: Chosen, sweep: str | None = None) -> pd.DataFrame | None:
    """The selected models' reliability bins (RELIABILITY), pooled over seeds per strategy and
    eval set: strategy, eval_set, bin, count, confidence (mean), accuracy. Read from the selected
    trials' own files only (the full load leaves these list columns out). None where the results
    have none (schema 1, calibration off) or strategies are compared across sweeps."""
    rows = selected_rows(paths, chosen.frame, list(RELIABILITY), sweep)
    if rows is None:
        return None
    rows = rows[rows.rel_count.notna()]
    well_formed = rows.apply(_well_formed, axis=1) if len(rows) else pd.Series([], dtype=bool)
    bad = int((~well_formed).sum())
    rows = rows[well_formed]
    if rows.empty:
        return None
    out = []
    for (strategy, eval_set), group in rows.groupby(["strategy", "eval_set"], sort=False):
        count, conf, correct = (np.sum(np.stack(group[c].to_numpy()), axis=0) for c in RELIABILITY)
        for b in range(len(count)):
            out.append({"strategy": strategy, "eval_set": eval_set, "bin": b, "count": int(count[b]),
                        "confidence": conf[b] / count[b] if count[b] else math.nan,
                        "accuracy": correct[b] / count[b] if count[b] else math.nan})
    bins = pd.DataFrame(out)
    bins.attrs["left_out"] = bad  # evaluations whose bins were not three lists of WIDTH_BINS sane numbers
    return bins


def _well_formed(row: pd.Series) -> bool:
    """Three lists of WIDTH_BINS finite numbers, counts >= correct >= 0, as lpft writes them: a
    damaged or hand-made file's are left out of the diagram (and counted), never an error."""
    try:
        count, conf, correct = (np.asarray(row[c], float) for c in RELIABILITY)
    except (TypeError, ValueError):
        return False
    shapes = {a.shape for a in (count, conf, correct)}
    return (shapes == {(WIDTH_BINS,)} and bool(np.isfinite([count, conf, correct]).all())
            and bool((count >= correct).all() and (correct >= 0).all() and (conf >= 0).all()))


def ood_calibration_points(frame: pl.DataFrame, ood_sets: list[str]) -> pd.DataFrame | None:
    """Every (trial, step) point's OOD ECE: the mean over the OOD sets (null where one is
    missing, as accuracy's ood_avg), raw and temperature-scaled; None without calibration."""
    if "ece" not in frame.columns or not ood_sets:
        return None
    ood = frame.filter(pl.col("eval_set").is_in(ood_sets))
    points = (ood.group_by(KEYS, maintain_order=True)
              .agg(*[pl.when(pl.col(c).null_count() == 0).then(pl.col(c).mean()).alias(f"ood_{c}")
                     for c in ("ece", "ece" + TS)], pl.len().alias("_sets")))
    points = points.filter(pl.col("_sets") == len(ood_sets)).drop("_sets")
    return points.to_pandas()


def calibration_sentence(cal: Calibration, looks: Mapping[str, Look] | None = None) -> str:
    """The accuracy sentence's counterpart: "OOD ECE (average over OOD sets), lower is better:
    FT vs LP: +3.9 points raw, +1.0 after TS;  LP-FT vs FT: ...", each difference that of the
    means as the table shows them; "" without both strategies of a pair."""
    def shown(strategy: str, metric: str) -> float:
        return cal.cells[(strategy, metric)]["ood_avg"].mean

    strategies = {s for s, _ in cal.cells}
    parts = []
    for a, b in PAPER_PAIRS:
        if a in strategies and b in strategies:
            raw = shown_difference(shown(a, "ece"), shown(b, "ece"))
            scaled = shown_difference(shown(a, "ece" + TS), shown(b, "ece" + TS))
            name = {s: looks[s].label if looks and s in looks else s for s in (a, b)}
            parts.append(f"{name[a]} vs {name[b]}: {raw} points raw, {scaled} after TS")
    return "OOD ECE (mean over OOD sets, lower is better): " + ";  ".join(parts) if parts else ""
