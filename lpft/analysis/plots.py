"""ID (x) vs OOD (y) frontier figures on probit axes, for pages and papers.

Axes carry accuracies on a real matplotlib probit scale (`probit_axes`), so a user adds
points and lines in accuracy units. Each panel: every (trial, step) point faint (a trial
whose steps are an interpolation path, hp.alpha, as a curve); the selected models bold
with seed error bars on both axes; the Pareto frontier as a black step line; the baseline
probit fit solid over the baseline's own ID range with its bootstrap band, dashed beyond;
y = x dotted. Axes fit the selected models, the frontier and the baseline (points outside
are counted in the corner); one legend outside the data, below; Okabe-Ito colours, stable
per strategy. Sizes: `single` (3.5 in, one paper column) and `double` (7 in).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lpft.analysis.appearance import looks_for
from lpft.analysis.groups import base_strategy
from lpft.analysis.robustness import EPS, EXTRAPOLATED, baseline_problem, bootstrap_lines, fit_baseline, probit
from lpft.analysis.tables import strategy_order
from lpft.looks import Look

# Okabe & Ito's colour-blind-safe palette, for strategies that declare no colour of their own
# (the paper's three declare theirs: `lpft.looks`), in sorted order.
MORE_COLOURS = ["#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
TICK_STEPS = (0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.001)  # round accuracy steps, coarsest first
TAIL_TICKS = (0.95, 0.98, 0.99, 0.995, 0.999)  # and 1 minus each: where probit axes stretch
RASTERIZE_ABOVE = 2000  # points per panel drawn as vectors; more are rasterised (at the figure's dpi)
SIZES = {"single": (3.5, 7), "double": (7.0, 8)}  # figure width (in), font size (pt), as printed
DPI = 150  # PNG
VECTOR_DPI = 120  # the faint cloud's raster inside an SVG or PDF (at a million rows: the report's size)


MARKERS = ["o", "s", "^", "D", "v", "P"]  # one per compared sweep


def colours(strategies: list[str], looks: Mapping[str, Look] | None = None) -> dict[str, str]:
    """Colour by strategy: its declared one, else the next of MORE_COLOURS; a compared sweep's
    `<sweep>/<strategy>` takes its strategy's. `looks`: as `appearance.looks_for` gives them."""
    bases = sorted({base_strategy(s) for s in strategies})
    declared = looks_for(bases) if looks is None else {b: looks[b] for b in bases if b in looks}
    by_base = {b: look.colour for b, look in declared.items() if look.colour}
    others = [s for s in bases if s not in by_base]
    by_base.update({s: MORE_COLOURS[i % len(MORE_COLOURS)] for i, s in enumerate(others)})
    return {**by_base, **{s: by_base[base_strategy(s)] for s in strategies}}


def legend_name(strategy: str, looks: Mapping[str, Look] | None) -> str:
    """How a legend names a strategy: its label ("LP-FT"), a compared sweep's `<sweep>/` kept."""
    base = base_strategy(strategy)
    label = looks[base].label if looks and base in looks else base
    return label if strategy == base else f"{strategy.rsplit('/', 1)[0]}/{label}"


def markers(strategies: list[str]) -> dict[str, str]:
    """Marker by compared sweep (`<sweep>/…`); a circle when one sweep is shown."""
    sweeps = sorted({s.rsplit("/", 1)[0] for s in strategies if "/" in s})
    return {s: MARKERS[sweeps.index(s.rsplit("/", 1)[0]) % len(MARKERS)] if "/" in s else "o" for s in strategies}


def set_label(column: str) -> str:
    return {"ood_avg": "OOD average", "id_test": "ID test", "id_val": "ID val"}.get(column, column)


def _inverse(z: np.ndarray) -> np.ndarray:
    from scipy.stats import norm

    return norm.cdf(z)


def probit_axes(ax: Any, lo: tuple[float, float], hi: tuple[float, float], max_ticks: int = 7) -> None:
    """Probit scale on both axes over accuracies [lo, hi] (x, y), %-labelled ticks that never
    crowd (at least 1/max_ticks of the axis apart: size it to the panel's width)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    for axis, setter, a, b in ((ax.xaxis, ax.set_xscale, lo[0], hi[0]), (ax.yaxis, ax.set_yscale, lo[1], hi[1])):
        setter("function", functions=(probit, _inverse))
        axis.set_major_locator(FixedLocator(_ticks(a, b, max_ticks)))
        axis.set_minor_locator(NullLocator())
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.3g}%"))
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.grid(alpha=0.25, lw=0.5)


def _ticks(a: float, b: float, max_ticks: int) -> list[float]:
    """Multiples of the coarsest round step giving 3 or more ticks over [a, b], thinned so
    neighbours are at least 3/4 of 1/max_ticks of the probit span apart, then the tails' round values
    (95%, 98%, 99% ... and 5%, 2%, 1% ...) where the probit scale stretches the ends and there is
    room: a panel reaching 97% gets a 95% tick, not one stopping at 90%."""
    span = probit(b) - probit(a)
    apart = 0.75 * span / max_ticks  # a label's width at max_ticks labels per axis, with room
    best: list[float] = []
    used = TICK_STEPS[-1]
    for step in TICK_STEPS:
        kept: list[float] = []
        for k in range(int(np.ceil(a / step)), int(np.floor(b / step)) + 1):
            t = round(k * step, 6)
            if 0 < t < 1 and (not kept or probit(t) - probit(kept[-1]) >= apart):
                kept.append(t)
        if len(kept) > len(best):
            best, used = kept, step
        if len(best) >= 3:
            break
    if not best:
        return best
    # Beyond the regular ticks (never among them), where the ends stretch: the tails' round
    # values, else half a step further (97% above 96%), so the axis's last models have a tick near
    top, bottom = max(best), min(best)
    ends = (*(u for u in TAIL_TICKS if u > top), round(top + used / 2, 6),
            *(round(1 - u, 6) for u in TAIL_TICKS if 1 - u < bottom), round(bottom - used / 2, 6))
    for t in ends:
        if a <= t <= b and all(abs(probit(t) - probit(u)) >= apart for u in best):
            best.append(t)
    return sorted(best)


def _limits(values: list[np.ndarray]) -> tuple[float, float]:
    """An accuracy range around `values`, padded by a tenth of its probit span each side."""
    v = np.concatenate([np.asarray(x, float) for x in values])
    v = v[np.isfinite(v)]
    z0, z1 = probit(np.min(v)), probit(np.max(v))
    pad = max(0.1 * (z1 - z0), 0.05)
    return float(np.clip(_inverse(z0 - pad), EPS, 1 - EPS)), float(np.clip(_inverse(z1 + pad), EPS, 1 - EPS))


def frontier_panel(ax: Any, points: pd.DataFrame, chosen: pd.DataFrame, column: str, baseline: str,
                   frontier_col: str, caveats: dict[str, str] | None = None, fit_axes: bool = True,
                   max_ticks: int = 7, looks: Mapping[str, Look] | None = None) -> int:
    """One panel. `caveats`: strategy -> why its effective robustness is not to be trusted
    (its label says so). `fit_axes`: fit the axes to the selected models and the frontier
    rather than every point (a C path down to chance would crowd them into a corner).
    Returns how many points fall outside the axes (the panel says so too)."""
    caveats = caveats or {}
    looks = looks if looks is not None else looks_for(sorted({base_strategy(s) for s in points.strategy.unique()}))
    palette = colours(sorted(points.strategy.unique()), looks)
    shapes = markers(sorted(points.strategy.unique()))
    front = points[points[frontier_col]].sort_values("id_test")
    base = points[points.strategy.map(base_strategy) == baseline]
    shown = [chosen, front] if fit_axes else [points]
    (x0, x1), (y0, y1) = _limits([d["id_test"] for d in shown]), _limits([d[column] for d in shown])
    probit_axes(ax, (x0, y0), (x1, y1), max_ticks)
    outside = int((~points["id_test"].between(x0, x1) | ~points[column].between(y0, y1)).sum())
    if max(x0, y0) < min(x1, y1):  # y = x, where it crosses the panel
        diag = np.linspace(max(x0, y0), min(x1, y1), 50)
        ax.plot(diag, diag, ls=":", color="0.55", lw=0.8, label="y = x")
    if not baseline_problem(base["id_test"].to_numpy()):
        fit = fit_baseline(base["id_test"], base[column])
        xs = np.linspace(x0, x1, 100)
        inside = np.linspace(base["id_test"].min(), base["id_test"].max(), 60)
        ax.plot(xs, fit.predict(xs), color="0.35", lw=0.9, ls=(0, (4, 3)))  # extrapolated: dashed
        ax.plot(inside, fit.predict(inside), color="0.35", lw=1.4, label=f"{legend_name(baseline, looks)} fit (probit)")
        lines = [f.predict(inside) for f in bootstrap_lines(base["id_test"], base[column], 200)]
        if lines:
            band = np.quantile(np.array(lines), [0.05, 0.95], axis=0)
            ax.fill_between(inside, band[0], band[1], color="0.5", alpha=0.18, lw=0)
    # The cloud at 35% opacity: faint on screen, still there on a printed page (18% vanished).
    # A dense cloud is an image inside the SVG/PDF (one element per point made a 128 MB file
    # for a million rows); lines, frontier, selected models and text stay vectors.
    dense = len(points) > RASTERIZE_ABOVE
    for strategy, group in points.groupby("strategy"):
        ax.scatter(group["id_test"], group[column], s=7, alpha=0.35, lw=0, color=palette[strategy],
                   marker=shapes[strategy], rasterized=dense)
    if "path" in points:  # interpolation paths (WiSE's alpha from 0 to 1): one curve per trial
        labelled = set()
        for (strategy, _), unsorted in points[points["path"].notna()].groupby(["strategy", "trial_id"]):
            group = unsorted.sort_values("path")
            name = legend_name(strategy, looks)
            ax.plot(group["id_test"], group[column], "-", marker=".", ms=3, lw=1, alpha=0.8,
                    color=palette[strategy], label=None if strategy in labelled else f"{name} path")
            labelled.add(strategy)
    # the boundary of what the frontier's models dominate: down, then right, from each
    if len(front) > 1:  # one model is no line: the legend lists only what is drawn
        ax.step(front["id_test"], front[column], where="pre", color="k", lw=1.2, label="Pareto frontier")
    # In the legend's order, the paper's three on top: a soup at LP-FT's point must not hide LP-FT
    drawn = strategy_order(list(chosen.strategy.unique()), dict(looks or {}))
    for rank, strategy in enumerate(drawn):
        group = chosen[chosen.strategy == strategy]
        x, y = group["id_test"], group[column]
        mx, my = x.mean(), y.mean()
        sx, sy = (x.std(ddof=1), y.std(ddof=1)) if len(x) > 1 else (0.0, 0.0)
        flagged = caveats.get(strategy, "").startswith(EXTRAPOLATED)
        name = legend_name(strategy, looks)
        ax.errorbar(mx, my, xerr=[[mx - max(mx - sx, EPS)], [min(mx + sx, 1 - EPS) - mx]],
                    yerr=[[my - max(my - sy, EPS)], [min(my + sy, 1 - EPS) - my]], fmt=shapes[strategy], ms=7,
                    capsize=2, color=palette[strategy], mec="k", mew=0.8, zorder=5 + (len(drawn) - rank) / 100,
                    label=f"{name} (ER extrapolated)" if flagged else name)
    # below the axes, where it can hide nothing
    ax.set_xlabel("ID test accuracy" + (f"\n({outside} points outside the axes)" if outside else ""))
    ax.set_ylabel(f"OOD accuracy ({set_label(column)})")
    ax.set_title(set_label(column))
    return outside


def _legend(fig: Any, ax: Any, width: float) -> None:
    """Below the panels, in as many columns as the figure's width holds for its longest label
    (a one-column figure with soups and WiSE in it would otherwise cut its labels off)."""
    handles, labels = ax.get_legend_handles_labels()
    longest = max((len(label) for label in labels), default=1)
    fits = max(1, int(width / (0.25 + 0.075 * longest)))  # inches per entry: marker, then ~0.075 per character
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4, fits), frameon=False,
               fontsize="small")


def frontier_figure(points: pd.DataFrame, chosen: pd.DataFrame, columns: list[str], baseline: str, selection: str,
                    caveats: dict[str, str] | None = None, size: str = "double",
                    looks: Mapping[str, Look] | None = None) -> Any:
    """One panel per column (a grid of up to three per row), one legend below them."""
    import matplotlib.pyplot as plt

    width, font = SIZES[size]
    cols = min(len(columns), 3 if size == "double" else 1)
    rows = (len(columns) + cols - 1) // cols
    height = rows * width / cols * 0.95 + 0.9  # square-ish panels, then the title and legend
    with plt.rc_context({"font.size": font}):
        fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False, layout="constrained")
        for ax, column in zip(axes.flat, columns):
            frontier_panel(ax, points, chosen, column, baseline, f"frontier.{column}", caveats, looks=looks,
                           max_ticks=max(3, int(width / cols / 0.5)))  # a label per half inch
        for ax in list(axes.flat)[len(columns):]:
            ax.axis("off")
        _legend(fig, axes.flat[0], width)
        fig.suptitle(f"ID vs OOD accuracy, probit axes; models selected by {selection}", fontsize=font)
    return fig


def grid_columns(columns: list[str]) -> list[str]:
    """The grid's panels: each OOD set, and their average only when there are several."""
    sets = [c for c in columns if c != "ood_avg"]
    return columns if len(sets) > 1 else sets or columns


def save_figures(points: pd.DataFrame, chosen: pd.DataFrame, columns: list[str], baseline: str, selection: str,
                 out: Path, caveats: dict[str, str] | None = None, looks: Mapping[str, Look] | None = None
                 ) -> list[Path]:
    """frontier_grid.{png,svg,pdf} (two columns wide; one where it has one panel) and, where there
    are several OOD sets, frontier_<set>.{png,svg,pdf} (one column) for each and their average:
    with one OOD set those would be the grid again, byte for byte."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    grid = grid_columns(columns)
    singles = columns if len(grid) > 1 else []
    for stem, fig in [*((f"frontier_{c}", frontier_figure(points, chosen, [c], baseline, selection, caveats,
                                                          "single", looks)) for c in singles),
                      ("frontier_grid", frontier_figure(points, chosen, grid, baseline, selection, caveats,
                                                        "double" if len(grid) > 1 else "single", looks))]:
        written += save_formats(fig, out, stem)
        plt.close(fig)
    return written


# The formats every report figure is written in: `figure_formats` narrows them for one report
# (`lpft analyze --figures png`: the HTML page needs the PNGs alone, and the vector files are
# most of a report's time).
FIGURE_FORMATS = {"all": ("png", "svg", "pdf"), "png": ("png",)}
_formats: ContextVar[tuple[str, ...]] = ContextVar("figure_formats", default=FIGURE_FORMATS["all"])


@contextmanager
def figure_formats(which: str) -> Iterator[None]:
    """Report figures written in `FIGURE_FORMATS[which]` while entered."""
    token = _formats.set(FIGURE_FORMATS[which])
    try:
        yield
    finally:
        _formats.reset(token)


def save_formats(fig: Any, out: Path, stem: str) -> list[Path]:
    """<stem>.png, .svg and .pdf (or those `figure_formats` names). PDF and PostScript embed
    TrueType (Type 42) fonts, not Type 3, which several venues refuse; in SVG and PDF the dpi is
    the rasterised cloud's alone."""
    import matplotlib

    written = []
    with matplotlib.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42}):
        for ext in _formats.get():
            fig.savefig(out / f"{stem}.{ext}", dpi=DPI if ext == "png" else VECTOR_DPI)
            written.append(out / f"{stem}.{ext}")
            # Laid out by the first save (positions in figure units, whatever the dpi): the other
            # formats keep them rather than lay it out again (a third of a report's time in all three)
            fig.set_layout_engine("none")
    return written
