"""Strategy against strategy, with an interval of its own: "LP-FT vs FT: +9.2 OOD (90% CI ...)".

Two strategies' tables can each have wide intervals while their difference is sure (the same
seed shares its split and data order, so its noise cancels): the paired interval over the
seeds both ran says so; without two common seeds, Welch's. The difference shown is that of
the two means as the table rounds them (`lpft.text.shown_difference`); the interval is the
method's own, around the unrounded difference.
"""

from __future__ import annotations

import math

import pandas as pd

from lpft.analysis.intervals import LEVEL, METHODS, difference_interval
from lpft.analysis.selection import Chosen
from lpft.analysis.tables import strategy_order
from lpft.looks import Look, look_of
from lpft.text import PAPER_PAIRS, pct, shown_difference

COLUMNS = ["strategy", "against", "metric", "difference", "shown", "ci_low", "ci_high", "interval", "method",
           "n_strategy", "n_against", "pairs", "df", "note"]
METRICS = (("id_test", "ID"), ("ood_avg", "OOD"))


PAPERS = {s for pair in PAPER_PAIRS for s in pair}  # the paper's three strategies


def pairs(strategies: list[str], looks: dict[str, Look] | None = None) -> list[tuple[str, str]]:
    """The paper's comparisons (FT vs LP, LP-FT vs FT) where both ran, then every other strategy vs FT."""
    have = set(strategies)
    out = [(a, b) for a, b in PAPER_PAIRS if a in have and b in have]
    if "ft" in have:
        out += [(s, "ft") for s in strategy_order(list(have), looks) if s not in PAPERS]
    return out


def compare(chosen: Chosen, ci: str = "t") -> pd.DataFrame:
    """One row per (pair, metric): each OOD set, the OOD average and ID test."""
    frame = chosen.frame
    metrics = ["id_test", *chosen.ood_sets, "ood_avg"]
    # not dict(groupby): a GroupBy has a .keys attribute, so dict() takes it for a mapping
    by = {s: g for s, g in frame.groupby("strategy")}  # noqa: C416
    rows = []
    for a, b in pairs(list(by), chosen.looks or None):
        for metric in metrics:
            va = dict(zip(by[a]["seed"].astype(int), by[a][metric].astype(float)))
            vb = dict(zip(by[b]["seed"].astype(int), by[b][metric].astype(float)))
            fixed = "".join(side for side, name in (("a", a), ("b", b)) if name in chosen.deterministic)
            d = difference_interval(va, vb, ci, constant=fixed)
            rows.append({"strategy": a, "against": b, "metric": metric, "difference": d.diff,
                         "shown": shown_difference(by[a][metric].mean(), by[b][metric].mean()),
                         "ci_low": d.low, "ci_high": d.high, "interval": METHODS[ci].label, "method": d.kind,
                         "n_strategy": d.n_a, "n_against": d.n_b, "pairs": d.pairs, "df": d.df, "note": d.why})
    return pd.DataFrame(rows, columns=COLUMNS)


def _part(row: pd.Series, label: str) -> str:
    if row.method == "exact":
        return f"{row.shown} {label} (exact: both deterministic)"
    if math.isnan(row.ci_low):
        return f"{row.shown} {label} (no interval: {row.note})"
    how = {"paired": f"paired over {row.pairs} seeds", "welch": f"Welch, {row.n_strategy} vs {row.n_against} seeds",
           "one-sample": f"over {max(row.n_strategy, row.n_against)} seeds against a deterministic run"}[row.method]
    return f"{row.shown} {label} ({LEVEL:.0%} CI {pct(row.ci_low, sign=True)} to {pct(row.ci_high, sign=True)}, {how})"


def sentences(table: pd.DataFrame, looks: dict[str, Look]) -> list[str]:
    """Per pair, "LP-FT vs FT: +3.8 ID (90% CI ...), +9.2 OOD (...)" from `compare`'s rows, each
    strategy named by its label."""
    out = []
    for (a, b), group in table.groupby(["strategy", "against"], sort=False):
        rows = {r.metric: r for r in group.itertuples()}
        parts = [_part(rows[m], label) for m, label in METRICS if m in rows]
        out.append(f"{look_of(a, looks).label} vs {look_of(b, looks).label}: " + ", ".join(parts))
    return out
