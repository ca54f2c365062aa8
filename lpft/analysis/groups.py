"""Which results are analysed together: never two benchmarks, and two sweeps only when compared.

`lpft analyze A B` on sweeps of different benchmarks once averaged OOD accuracy across
benchmarks and counted one strategy's trials from both as more seeds. Results are now split
by (benchmark, sweep), each its own report; `--compare` keeps the sweeps of one benchmark
together (two backbones, say) and names each strategy `<sweep>/<strategy>`, so they stand
side by side in the tables and on one frontier (and its trials `<sweep>/<trial>`: sweeps
name their trials alike).
"""

from __future__ import annotations

import polars as pl


def _column(frame: pl.DataFrame, name: str) -> pl.Expr:
    return pl.col(name).fill_null("") if name in frame.columns else pl.lit("")


def split_groups(frame: pl.DataFrame, compare: bool = False) -> dict[str, pl.DataFrame]:
    """label -> its rows: one per (benchmark, sweep), or with `compare` one per benchmark."""
    keyed = frame.select(_column(frame, "benchmark").alias("b"), _column(frame, "sweep").alias("s"))
    pairs = sorted(keyed.unique().iter_rows()) if frame.height else []
    benches = sorted({b for b, _ in pairs})
    groups: dict[str, pl.DataFrame] = {}
    if compare:
        for b in benches:
            part = frame.filter(_column(frame, "benchmark") == b) if len(benches) > 1 else frame
            sweeps = sorted({s for bb, s in pairs if bb == b})
            if len(sweeps) > 1:  # sweeps name their trials alike (ft-000): the sweep makes them distinct
                part = part.with_columns(pl.concat_str([_column(part, "sweep"), pl.col(key)], separator="/").alias(key)
                                         for key in ("strategy", "trial_id"))
            groups[b or "results"] = part
        return groups
    names = [s or b or "results" for b, s in pairs]
    if len(pairs) == 1:  # the usual case: no filtered copy of a million rows
        return {names[0]: frame}
    for (b, s), name in zip(pairs, names):
        label = name if names.count(name) == 1 else f"{name}-{b}"  # one sweep name on two benchmarks
        groups[label] = frame.filter((_column(frame, "benchmark") == b) & (_column(frame, "sweep") == s))
    return groups


def base_strategy(strategy: str) -> str:
    """`ft` for `ft` and for `<sweep>/ft` (a compared sweep's)."""
    return strategy.rsplit("/", 1)[-1]
