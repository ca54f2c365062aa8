"""Which classes fail where: the selected models' per-class accuracy on every eval set, and their
confusion matrices, pooled over seeds per strategy (the counts summed, then divided).

Read from the selected trials' own files at their selected steps (`read_trial_rows`: the full
load leaves these list columns out); an OOD set that covers some classes only shows those. A
row whose counts are not what lpft writes (lists of one length, counts >= correct >= 0, a
confusion whose rows sum to the counts) is left out and counted, never an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lpft.analysis.plots import SIZES, legend_name, save_formats, set_label
from lpft.analysis.selection import selected_rows
from lpft.analysis.tables import strategy_order
from lpft.looks import Look
from lpft.results import PER_CLASS

MAX_CELLS = 40  # classes up to which the accuracy heat map writes each cell's number


def _counts(row: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """(count, correct, confusion or None) as lpft writes them, else None."""
    try:
        count, correct = np.asarray(row["class_count"], float), np.asarray(row["class_correct"], float)
        confusion = None if row["confusion"] is None else np.asarray(row["confusion"], float)
    except (TypeError, ValueError):
        return None
    k = len(count)
    if k == 0 or count.shape != (k,) or correct.shape != (k,) or not np.isfinite([count, correct]).all() \
            or (correct < 0).any() or (correct > count).any() or (count != np.round(count)).any():
        return None
    if confusion is not None:
        if confusion.shape != (k * k,) or not np.isfinite(confusion).all() or (confusion < 0).any():
            return None
        confusion = confusion.reshape(k, k)
        if not (np.array_equal(confusion.sum(axis=1), count) and np.array_equal(np.diag(confusion), correct)):
            return None
    return count, correct, confusion


def per_class_counts(paths: list[str], frame: pd.DataFrame, sweep: str | None = None
                     ) -> tuple[pd.DataFrame | None, int]:
    """(strategy, eval_set, class, n, correct, accuracy) of the selected models (`frame`, one row
    per seed) pooled over seeds, with each (strategy, eval set)'s summed confusion in
    `attrs["confusion"]`; and how many evaluations were left out."""
    rows = selected_rows(paths, frame, list(PER_CLASS), sweep)
    if rows is None:
        return None, 0
    rows = rows[rows.class_count.notna()]
    out, confusions, bad = [], {}, 0
    for (strategy, eval_set), group in rows.groupby(["strategy", "eval_set"], sort=False):
        parsed = [c for c in (_counts(r) for _, r in group.iterrows()) if c is not None]
        bad += len(group) - len(parsed)
        if not parsed or len({len(c[0]) for c in parsed}) > 1:
            bad += len(parsed) if parsed else 0
            continue
        count, correct = np.sum([c[0] for c in parsed], axis=0), np.sum([c[1] for c in parsed], axis=0)
        matrices = [c[2] for c in parsed if c[2] is not None]
        if len(matrices) == len(parsed):
            confusions[(strategy, eval_set)] = np.sum(matrices, axis=0)
        for k in np.flatnonzero(count):
            out.append({"strategy": strategy, "eval_set": eval_set, "class": int(k), "n": int(count[k]),
                        "correct": int(correct[k]), "accuracy": correct[k] / count[k]})
    if not out:
        return None, bad
    table_out = pd.DataFrame(out)
    table_out.attrs["confusion"] = confusions
    return table_out, bad


def _order(table: pd.DataFrame, looks: Mapping[str, Look] | None) -> tuple[list[str], list[str]]:
    strategies = strategy_order(list(table.strategy.unique()), dict(looks or {}))
    sets = list(dict.fromkeys(table.eval_set))
    return strategies, sets


def accuracy_figure(table: pd.DataFrame, looks: Mapping[str, Look] | None) -> Any:
    """Per eval set: a strategies x classes heat map of accuracy (the classes the set has)."""
    import matplotlib.pyplot as plt

    strategies, sets = _order(table, looks)
    width, font = SIZES["double"]
    with plt.rc_context({"font.size": font}):
        fig, axes = plt.subplots(len(sets), 1, figsize=(width, 0.25 * len(strategies) * len(sets) + 0.9 * len(sets)),
                                 squeeze=False, layout="constrained")
        for ax, s in zip(axes[:, 0], sets):
            part = table[table.eval_set == s].pivot(index="strategy", columns="class", values="accuracy")
            part = part.reindex([x for x in strategies if x in part.index])
            image = ax.imshow(part.to_numpy(float), aspect="auto", cmap="viridis", vmin=0, vmax=1,
                              interpolation="nearest")
            ax.set_yticks(range(len(part.index)), [legend_name(x, looks) for x in part.index])
            classes = list(part.columns)
            step = max(1, math.ceil(len(classes) / 40))
            ax.set_xticks(range(0, len(classes), step), [str(c) for c in classes[::step]])
            ax.set_title(f"{set_label(s)}: accuracy per class", loc="left")
            if len(classes) <= MAX_CELLS:
                for (i, j), v in np.ndenumerate(part.to_numpy(float)):
                    if not math.isnan(v):
                        ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize="x-small",
                                color="white" if v < 0.55 else "black")
        fig.colorbar(image, ax=axes[:, 0].tolist(), shrink=0.6, label="accuracy", format=lambda v, _: f"{100 * v:.0f}%")
        axes[-1, 0].set_xlabel("class (its index)")
    return fig


def confusion_figure(confusions: dict[tuple[str, str], np.ndarray], looks: Mapping[str, Look] | None) -> Any:
    """Each strategy's selected model (rows) on each eval set (columns): its confusion matrix,
    each true class's row as shares of that class's examples."""
    import matplotlib.pyplot as plt

    strategies = strategy_order(list(dict.fromkeys(s for s, _ in confusions)), dict(looks or {}))
    sets = list(dict.fromkeys(e for _, e in confusions))
    side = min(1.6, 7.0 / len(sets))
    with plt.rc_context({"font.size": SIZES["double"][1]}):
        fig, axes = plt.subplots(len(strategies), len(sets), squeeze=False, layout="constrained",
                                 figsize=(side * len(sets) + 0.8, side * len(strategies) + 0.8))
        image = None
        for i, strategy in enumerate(strategies):
            for j, s in enumerate(sets):
                ax = axes[i, j]
                matrix = confusions.get((strategy, s))
                ax.set_xticks([])
                ax.set_yticks([])
                if matrix is None:
                    ax.axis("off")
                    continue
                rows = matrix.sum(axis=1, keepdims=True)
                shares = np.divide(matrix, rows, out=np.full(matrix.shape, np.nan), where=rows > 0)
                image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
                if i == 0:
                    ax.set_title(set_label(s), fontsize="small")
                if j == 0:
                    ax.set_ylabel(legend_name(strategy, looks), fontsize="small")
        if image is not None:
            fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="share of the true class")
        fig.suptitle("Confusion of the selected models (rows: true class, columns: predicted)")
    return fig


def left_out_note(bad: int) -> list[str]:
    return [f"per-class accuracy: {bad} of the selected models' evaluations left out (their counts are not "
            "lpft's: damaged or written by hand)"] if bad else []


def write_per_class(table: pd.DataFrame | None, out: Path, looks: Mapping[str, Look] | None
                    ) -> tuple[dict[str, str], list[Path]]:
    """per_class.csv, per_class.{png,svg,pdf} and confusion.{png,svg,pdf} where the results hold
    per-class counts: ({stem: alt text}, files written)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if table is None:
        return {}, []
    table.to_csv(out / "per_class.csv", index=False)
    written, figures = [out / "per_class.csv"], {}
    drawn = [("per_class", accuracy_figure(table, looks), "accuracy per class of each strategy's selected model")]
    if table.attrs.get("confusion"):
        drawn.append(("confusion", confusion_figure(table.attrs["confusion"], looks),
                      "confusion matrices of the selected models on every eval set"))
    for stem, fig, alt in drawn:
        written += save_formats(fig, out, stem)
        plt.close(fig)
        figures[stem] = alt
    return figures, written
