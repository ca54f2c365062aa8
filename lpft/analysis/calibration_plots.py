"""Calibration figures: reliability diagrams of the selected models, and OOD calibration against
OOD accuracy over every (trial, step) model (the calibration counterpart of the frontier).

Both use the strategies' colours and order (`lpft.looks`), one legend below the panels, and the
frontier figures' sizes and formats (`lpft.analysis.plots`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lpft.analysis.plots import RASTERIZE_ABOVE, SIZES, _legend, colours, save_formats, set_label
from lpft.analysis.tables import strategy_order
from lpft.looks import Look


def reliability_figure(bins: pd.DataFrame, sets: list[str], looks: Mapping[str, Look] | None = None) -> Any:
    """One panel per eval set (ID val, then each OOD set): per strategy, each non-empty bin's
    accuracy against its mean confidence, the marker's area its share of the examples; the
    diagonal is perfect calibration. Pooled over the selected models' seeds."""
    import matplotlib.pyplot as plt

    width, font = SIZES["double"]
    sets = [s for s in sets if s in set(bins.eval_set)]
    cols = min(len(sets), 3)
    rows = (len(sets) + cols - 1) // cols
    strategies = strategy_order(list(bins.strategy.unique()), looks)
    colour = colours(strategies, looks)
    with plt.rc_context({"font.size": font}):
        fig, axes = plt.subplots(rows, cols, figsize=(width, rows * width / cols + 0.9), squeeze=False,
                                 layout="constrained")
        for ax, name in zip(axes.flat, sets):
            ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="perfect calibration")
            for strategy in strategies:
                mine = bins[(bins.strategy == strategy) & (bins.eval_set == name) & (bins["count"] > 0)]
                if mine.empty:
                    continue
                share = mine["count"] / mine["count"].sum()
                label = looks[strategy].label if looks and strategy in looks else strategy
                ax.plot(mine.confidence, mine.accuracy, color=colour[strategy], lw=1.2, label=label)
                ax.scatter(mine.confidence, mine.accuracy, s=8 + 120 * share, color=colour[strategy], zorder=3)
            ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", title=set_label(name))
            ax.set_xlabel("confidence (top-label)")
            ax.set_ylabel("accuracy")
        for ax in list(axes.flat)[len(sets):]:
            ax.axis("off")
        _legend(fig, axes.flat[0], width)
        fig.suptitle("Reliability of the selected models (15 equal-width bins, seeds pooled; "
                     "marker area: share of examples)", fontsize=font)
    return fig


# The faint cloud's points per strategy: a larger cloud is drawn as a fixed random sample of this
# many (the title says so). Past it, more points only darken the cloud into one blot and cost
# drawing time and bytes in three formats.
CLOUD_MAX = 5000


def calibration_scatter(points: pd.DataFrame, chosen: pd.DataFrame, looks: Mapping[str, Look] | None = None,
                        column: str = "ood_ece") -> Any:
    """OOD ECE (mean over the OOD sets) against OOD average accuracy: every (trial, step) model
    faint (a sample of CLOUD_MAX per strategy beyond that), the selected models bold with their
    seeds' mean. Lower right is accurate and calibrated."""
    import matplotlib.pyplot as plt

    width, font = SIZES["single"]
    strategies = strategy_order(list(points.strategy.unique()), looks)
    colour = colours(strategies, looks)
    picked = chosen.merge(points, on=["strategy", "trial_id", "seed", "step"], suffixes=("_acc", ""))
    with plt.rc_context({"font.size": font}):
        fig, ax = plt.subplots(figsize=(width, width * 0.9 + 0.8), layout="constrained")
        sampled = False
        for strategy in strategies:
            mine = points[points.strategy == strategy]
            if len(mine) > CLOUD_MAX:
                mine, sampled = mine.sample(CLOUD_MAX, random_state=0), True
            label = looks[strategy].label if looks and strategy in looks else strategy
            ax.scatter(mine.ood_avg, 100 * mine[column], s=6, alpha=0.25, color=colour[strategy], lw=0,
                       rasterized=len(points) > RASTERIZE_ABOVE)
            sel = picked[picked.strategy == strategy]
            if not sel.empty:
                ax.errorbar(sel.ood_avg.mean(), 100 * sel[column].mean(),
                            xerr=sel.ood_avg.std() if len(sel) > 1 else None,
                            yerr=100 * sel[column].std() if len(sel) > 1 else None,
                            fmt="o", ms=6, mec="black", mew=0.8, color=colour[strategy], label=f"{label} (selected)")
            elif not mine.empty:
                ax.scatter([], [], color=colour[strategy], label=label)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
        ax.set_xlabel("OOD average accuracy")
        ax.set_ylabel("OOD ECE, % (lower is better)" if column == "ood_ece" else "OOD ECE after TS, %")
        ax.set_ylim(bottom=0)
        _legend(fig, ax, width)
        fig.suptitle("OOD calibration vs OOD accuracy, every (trial, step) model"
                     + (f"\n(a random {CLOUD_MAX:,} per strategy where it has more)" if sampled else ""),
                     fontsize=font)
    return fig


def save_calibration_figures(bins: pd.DataFrame | None, sets: list[str], points: pd.DataFrame | None,
                             chosen: pd.DataFrame, out: Path, looks: Mapping[str, Look] | None = None) -> list[Path]:
    """reliability.{png,svg,pdf} and calibration_vs_accuracy.{png,svg,pdf}, where there is data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    if bins is not None and not bins.empty:
        figures.append(("reliability", reliability_figure(bins, sets, looks)))
    if points is not None and not points.empty and np.isfinite(points["ood_ece"].to_numpy(float)).any():
        figures.append(("calibration_vs_accuracy", calibration_scatter(points, chosen, looks)))
    written = []
    for stem, fig in figures:
        written += save_formats(fig, out, stem)
        plt.close(fig)
    return written
