"""What a reader must know before trusting the selection: a validation set too small to rank
configs finely, and configs that tied with the winner (the tie rule, not the data, chose)."""

from __future__ import annotations

import polars as pl

from lpft.analysis.selection import Chosen
from lpft.best import SMALL_VAL, small_val_note
from lpft.text import pct


def eval_set_sizes(frame: pl.DataFrame) -> dict[str, int]:
    """Examples per eval set, from the results' `n_examples` column (null in older files)."""
    if "n_examples" not in frame.columns:
        return {}
    sizes = frame.group_by("eval_set").agg(pl.col("n_examples").max()).drop_nulls()
    return {str(s): int(n) for s, n in sizes.iter_rows()}


def deterministic_strategies(frame: pl.DataFrame) -> frozenset[str]:
    """Strategies every one of whose rows says its seed changed nothing (`seed_controls` ""):
    their single run is exact, not a sample of one."""
    if "seed_controls" not in frame.columns:
        return frozenset()
    flags = frame.group_by("strategy").agg((pl.col("seed_controls") == "").fill_null(False).all().alias("fixed"))
    return frozenset(str(s) for s, fixed in flags.iter_rows() if fixed)


def selection_notes(chosen: Chosen, sizes: dict[str, int], val_set: str | None) -> list[str]:
    """One line per caveat on how the configs were selected ([] when there is none)."""
    notes = []
    small = small_val_note(sizes.get(val_set or "", 0), val_set or "id_val")
    if chosen.metric == "id_val" and small:
        notes.append(f"{small} (use {SMALL_VAL} or more to select on)")
    tied = {s: t for s, t in chosen.ties.items() if t[0]}
    if tied:
        parts = [f"{s} ({k} other config{'s' if k > 1 else ''} at {chosen.metric} {pct(score)})"
                 for s, (k, score) in sorted(tied.items())]
        notes.append("selection tie: " + ", ".join(parts) + "; the config whose hyperparameters sort first was "
                     "taken (lpft.best's tie rule), not a better one")
    return notes
