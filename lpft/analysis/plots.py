"""ID (x) vs OOD (y) on probit axes with %-labelled ticks (imagenet-testbed's style).

Every (trial, step) point faint (a trial whose steps are an interpolation path, hp.alpha, as a
curve); the selected models bold with seed error bars; the
Pareto frontier as a step line; the baseline probit fit with a bootstrap band; y = x
dashed; one stable colour per strategy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lpft.analysis.robustness import baseline_problem, bootstrap_lines, fit_baseline, probit

PALETTE = {"lp": "#1f77b4", "ft": "#ff7f0e", "lpft": "#2ca02c"}
MORE_COLOURS = ["#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
RASTERIZE_ABOVE = 2000  # points per panel drawn as vectors; more are rasterised (at the figure's dpi)
TICKS = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]


def colours(strategies: list[str]) -> dict[str, str]:
    """Stable colours: the paper's three fixed, others in sorted order."""
    others = sorted(s for s in strategies if s not in PALETTE)
    return {**PALETTE, **{s: MORE_COLOURS[i % len(MORE_COLOURS)] for i, s in enumerate(others)}}


def _axes(ax, lo: float, hi: float) -> None:  # noqa: ANN001
    ticks = [t for t in TICKS if lo <= t <= hi] or TICKS
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_ticks(probit(np.array(ticks)))
        axis.set_ticklabels([f"{100 * t:g}%" for t in ticks])
    ax.set_xlim(probit(lo), probit(hi))
    ax.set_ylim(probit(lo), probit(hi))
    ax.grid(alpha=0.3)


def frontier_panel(ax, points: pd.DataFrame, chosen: pd.DataFrame, column: str, baseline: str,  # noqa: ANN001
                   frontier_col: str, caveats: dict[str, str] | None = None) -> None:
    """`caveats`: strategy -> why its effective robustness is not to be trusted (its label says so)."""
    caveats = caveats or {}
    palette = colours(sorted(points.strategy.unique()))
    accs = np.concatenate([points["id_test"], points[column]])
    lo, hi = max(0.005, float(np.nanmin(accs)) - 0.05), min(0.995, float(np.nanmax(accs)) + 0.02)
    _axes(ax, lo, hi)
    line = np.linspace(probit(lo), probit(hi), 50)
    ax.plot(line, line, "k--", lw=0.8, label="y = x")
    base = points[points.strategy == baseline]
    if not baseline_problem(base["id_test"].to_numpy()):
        # solid over the ID range the baseline covers, dotted where it is extrapolated
        fit = fit_baseline(base["id_test"], base[column])
        x0, x1 = probit(base["id_test"].min()), probit(base["id_test"].max())
        inside = np.linspace(x0, x1, 50)
        ax.plot(inside, fit.slope * inside + fit.intercept, color="0.3", lw=1.2, label=f"{baseline} fit")
        ax.plot(line, fit.slope * line + fit.intercept, color="0.3", lw=0.8, ls=":")
        fits = [f.slope * inside + f.intercept for f in bootstrap_lines(base["id_test"], base[column], 200)]
        if fits:
            band = np.quantile(np.array(fits), [0.05, 0.95], axis=0)
            ax.fill_between(inside, band[0], band[1], color="0.5", alpha=0.15, lw=0)
    # A dense cloud is an image inside the SVG (one point per element made a 128 MB file for a
    # million rows); lines, frontier, selected models and text stay vectors.
    dense = len(points) > RASTERIZE_ABOVE
    for strategy, group in points.groupby("strategy"):
        ax.scatter(probit(group["id_test"]), probit(group[column]), s=8, alpha=0.15, color=palette[strategy],
                   rasterized=dense)
    if "path" in points:  # interpolation paths (WiSE's alpha from 0 to 1): one curve per trial
        labelled = set()
        for (strategy, _), group in points[points["path"].notna()].groupby(["strategy", "trial_id"]):
            group = group.sort_values("path")
            ax.plot(probit(group["id_test"]), probit(group[column]), "-", marker=".", ms=3, lw=1, alpha=0.8,
                    color=palette[strategy], label=None if strategy in labelled else f"{strategy} path")
            labelled.add(strategy)
    front = points[points[frontier_col]].sort_values("id_test")
    ax.step(probit(front["id_test"]), probit(front[column]), where="post", color="k", lw=1, alpha=0.6,
            label="Pareto frontier")
    for strategy, group in chosen.groupby("strategy"):
        x, y = group["id_test"], group[column]
        xerr = x.std(ddof=1) if len(x) > 1 else 0.0
        yerr = y.std(ddof=1) if len(y) > 1 else 0.0
        mx, my = x.mean(), y.mean()
        ax.errorbar(probit(mx), probit(my),
                    xerr=[[probit(mx) - probit(max(mx - xerr, 1e-4))], [probit(min(mx + xerr, 1 - 1e-4)) - probit(mx)]],
                    yerr=[[probit(my) - probit(max(my - yerr, 1e-4))], [probit(min(my + yerr, 1 - 1e-4)) - probit(my)]],
                    fmt="o", ms=8, color=palette[strategy], mec="k",
                    label=f"{strategy} (ER extrapolated)" if caveats.get(strategy, "").startswith("extrapolated")
                    else strategy)
    ax.set_xlabel("ID test accuracy")
    ax.set_ylabel(f"OOD accuracy: {column}")
    ax.set_title(column)


def save_figures(points: pd.DataFrame, chosen: pd.DataFrame, columns: list[str], baseline: str, selection: str,
                 out: Path, caveats: dict[str, str] | None = None) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save(fig, stem: str, dpi: int) -> list[Path]:  # noqa: ANN001
        """PNG for pages and notebooks, SVG for papers."""
        fig.tight_layout()
        paths = [out / f"{stem}.{ext}" for ext in ("png", "svg")]
        for path in paths:
            fig.savefig(path, dpi=dpi)
        plt.close(fig)
        return paths

    written = []
    for column in columns:
        fig, ax = plt.subplots(figsize=(5.5, 5))
        frontier_panel(ax, points, chosen, column, baseline, f"frontier.{column}", caveats)
        ax.legend(fontsize=8, loc="lower right")
        fig.suptitle(f"selection: {selection}", fontsize=9)
        written += save(fig, f"frontier_{column}", 120)
    n = len(columns)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 4.2 * rows), squeeze=False)
    for ax, column in zip(axes.flat, columns):
        frontier_panel(ax, points, chosen, column, baseline, f"frontier.{column}", caveats)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"ID vs OOD (probit axes), selection: {selection}", fontsize=10)
    return written + save(fig, "frontier_grid", 110)
