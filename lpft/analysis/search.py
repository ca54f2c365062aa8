"""Seeing the search, not only its winner: were the trials trained long enough (learning
curves), does the selected value sit at the edge of its range (accuracy against each searched
hyperparameter, the range's bounds marked), which hyperparameter mattered and how the search
went (Optuna's own importance and history, from the sweep's study).

Everything here reads what a sweep left (its results, `trials.parquet`, `optuna.journal`) as
data: the journal is read from a private copy (Optuna's reader takes a lock file beside it) and
only up to MAX_JOURNAL bytes; a journal it cannot read is a note, not a traceback.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lpft.analysis.groups import base_strategy
from lpft.analysis.plots import SIZES, legend_name, save_formats, set_label
from lpft.analysis.tables import strategy_order
from lpft.looks import Look

MAX_JOURNAL = 64 * 2**20  # bytes of optuna.journal read at most (a sweep's is ~1 KB a trial)
EDGE = 0.03  # within this fraction of a range's (log) span of a bound: "at the bound"
SET_COLOURS = ["#000000", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442"]
NOT_SEARCHED = {"hp.seed", "hp.epochs", "hp.num_cs", "hp.num_alphas", "hp.c_min", "hp.c_max", "hp.eval_every"}


@dataclass
class SearchViews:
    """What `write_search_figures` drew, for the HTML page and the console."""

    figures: dict[str, str] = field(default_factory=dict)  # stem -> what it shows (alt text)
    warnings: list[str] = field(default_factory=list)  # a selected value at a bound of its range
    notes: list[str] = field(default_factory=list)  # what could not be drawn, and why


def _percent(ax: Any) -> None:
    """Accuracy ticks in %, with the decimals the ticks' spacing needs (80%, 96.1%): call after drawing."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    ticks = ax.get_yticks()
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    step = float(np.min(np.diff(ticks))) if len(ticks) > 1 else 0.1
    decimals = max(0, -math.floor(math.log10(100 * step) + 1e-9)) if step > 0 else 1
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.{decimals}f}%"))
    ax.grid(alpha=0.25, lw=0.5)


def _log_x(ax: Any, lo: float, hi: float) -> None:
    """A log x-axis: over two decades or less labelled at 1, 2 and 5 times each power of ten,
    plainly (0.003, 0.01); wider, at powers of ten (10^-7); never at the minor ticks."""
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    ax.set_xscale("log")
    if math.log10(hi / lo) <= 2:
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:.3g}"))
    else:
        ax.xaxis.set_major_locator(LogLocator(numticks=6))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _grid(n: int, size: str = "double", height: float = 2.3) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    width, _ = SIZES[size]
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width, rows * height + 0.8), squeeze=False, layout="constrained")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, axes


def path_column(trials: pd.DataFrame) -> str | None:
    """The hyperparameter a trial's steps walk (LP's C, WiSE's alpha), if any."""
    for c in (c for c in trials.columns if c.startswith("hp.")):
        if pd.api.types.is_numeric_dtype(trials[c]) and (trials.groupby("trial_id")[c].nunique() > 1).any():
            return c
    return None


def learning_curves(points: pd.DataFrame, chosen: pd.DataFrame, sets: list[str], stopped: set[str],
                    looks: Mapping[str, Look] | None) -> Any | None:
    """Per strategy with more than one step: the selected config's seeds, every eval set against
    the step; the strategy's other trials' ID val faint (early-stopped ones fainter, dotted)."""
    order = [s for s in strategy_order(list(points.strategy.unique()), dict(looks or {}))
             if points.loc[points.strategy == s, "step"].nunique() > 1]
    if not order:
        return None
    import matplotlib.pyplot as plt

    with plt.rc_context({"font.size": SIZES["double"][1]}):
        fig, axes = _grid(len(order))
        colour = {s: SET_COLOURS[i % len(SET_COLOURS)] for i, s in enumerate(sets)}
        for ax, strategy in zip(axes.flat, order):
            its = points[points.strategy == strategy]
            selected = set(chosen.loc[chosen.strategy == strategy, "trial_id"])
            for trial, unsorted in its[~its.trial_id.isin(selected)].groupby("trial_id"):
                early, t = trial in stopped, unsorted.sort_values("step")
                ax.plot(t["step"], t["id_val"], color="0.55", lw=0.7, alpha=0.25 if early else 0.5,
                        ls=":" if early else "-")
            for _, unsorted in its[its.trial_id.isin(selected)].groupby("trial_id"):
                t = unsorted.sort_values("step")
                for s in sets:
                    ax.plot(t["step"], t[s], color=colour[s], lw=1.1, alpha=0.9, ls="-" if s == "id_val" else "--")
            along = path_column(its)
            ax.set_xlabel(f"step along {along.removeprefix('hp.')}'s path" if along else "epoch")
            ax.set_title(f"{legend_name(strategy, looks)}: {len(selected)} seed{'s' * (len(selected) > 1)}")
            _percent(ax)
        handles = [plt.Line2D([], [], color=colour[s], ls="-" if s == "id_val" else "--", label=set_label(s))
                   for s in sets]
        handles.append(plt.Line2D([], [], color="0.55", alpha=0.5, label="other trials (ID val)"))
        if stopped & set(points.trial_id):
            handles.append(plt.Line2D([], [], color="0.55", alpha=0.25, ls=":", label="stopped early (ASHA)"))
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), frameon=False,
                   fontsize="small")
        fig.suptitle("Learning curves: the selected configuration's seeds on every eval set")
    return fig


@dataclass(frozen=True)
class Searched:
    strategy: str
    column: str  # hp.<name>
    along_path: bool  # LP's C: every step a value; else one value per trial
    bounds: tuple[float, float]
    bounds_from: str  # "search space" (Optuna's distribution) or "values tried"
    selected: float


def searched(points: pd.DataFrame, chosen: pd.DataFrame, spaces: dict[str, dict[str, tuple[float, float]]]
             ) -> list[Searched]:
    """Each strategy's numeric hyperparameters that took more than one value, with their bounds."""
    out = []
    for strategy in strategy_order(list(points.strategy.unique())):
        its, picked = points[points.strategy == strategy], chosen[chosen.strategy == strategy]
        along = path_column(its)
        for c in sorted(c for c in its.columns if c.startswith("hp.") and c not in NOT_SEARCHED):
            if not pd.api.types.is_numeric_dtype(its[c]) or its[c].nunique(dropna=True) < 2 or picked[c].isna().all():
                continue
            space = spaces.get(base_strategy(strategy), {}).get(c.removeprefix("hp."))
            lo, hi = space if space else (float(its[c].min()), float(its[c].max()))
            out.append(Searched(strategy, c, c == along, (lo, hi), "search space" if space else "values tried",
                                float(picked[c].iloc[0])))
    return out


def _log(lo: float, hi: float) -> bool:
    return lo > 0 and hi / lo >= 10


def at_bound(h: Searched) -> str | None:
    """"top" or "bottom" when the selected value is within EDGE of its range's end."""
    lo, hi = h.bounds
    f = math.log if _log(lo, hi) else float
    if hi <= lo:
        return None
    where = (f(h.selected) - f(lo)) / (f(hi) - f(lo))
    return "top" if where >= 1 - EDGE else "bottom" if where <= EDGE else None


def bound_warnings(found: list[Searched], looks: Mapping[str, Look] | None) -> list[str]:
    out = []
    for h in found:
        edge = at_bound(h)
        if edge:
            name = h.column.removeprefix("hp.")
            out.append(f"{legend_name(h.strategy, looks)}: the selected {name} {h.selected:.3g} is at the {edge} of "
                       f"its {'path' if h.along_path else h.bounds_from} ({h.bounds[0]:.3g} to {h.bounds[1]:.3g}): "
                       f"the best may lie beyond it; widen the range")
    return out


def hyperparameter_figure(points: pd.DataFrame, found: list[Searched], looks: Mapping[str, Look] | None) -> Any:
    """Per searched hyperparameter of each strategy: ID val and OOD average against its value
    (each trial's best-ID-val step; along a path, every step), the range's bounds dashed, the
    selected value a vertical line."""
    import matplotlib.pyplot as plt

    with plt.rc_context({"font.size": SIZES["double"][1]}):
        fig, axes = _grid(len(found))
        for ax, h in zip(axes.flat, found):
            its = points[points.strategy == h.strategy]
            shown = its if h.along_path else its.loc[its.groupby("trial_id")["id_val"].idxmax()]
            shown = shown.sort_values(h.column)
            style = {"marker": "o", "ms": 3, "lw": 0.8 if h.along_path else 0}
            ax.plot(shown[h.column], shown["id_val"], color="#000000", label="ID val", **style)
            ax.plot(shown[h.column], shown["ood_avg"], color="#D55E00", label="OOD average", **style)
            if _log(*h.bounds):
                _log_x(ax, *h.bounds)
            for b in h.bounds:
                ax.axvline(b, color="0.4", ls="--", lw=0.8)
            ax.axvline(h.selected, color="#009E73", lw=1.4, label="selected")
            name = h.column.removeprefix("hp.")
            ax.set_xlabel(f"{name} ({'along the path' if h.along_path else h.bounds_from + ' dashed'})")
            ax.set_title(f"{legend_name(h.strategy, looks)}: {name}" + (" (at a bound)" if at_bound(h) else ""),
                         color="#B00020" if at_bound(h) else "black")
            _percent(ax)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False, fontsize="small")
        fig.suptitle("Accuracy against each searched hyperparameter")
    return fig


def read_studies(context: list[dict], tmp: Path) -> tuple[list[Any], list[str]]:
    """Each analysed sweep's Optuna studies, from a private copy of its optuna.journal in `tmp`
    (which must outlive the studies: Optuna reads the file when asked); notes for journals too
    large or unreadable."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    studies, notes = [], []
    for i, info in enumerate(context):
        journal = Path(info["path"]) / "optuna.journal"
        try:
            if not journal.is_file():
                continue
            if journal.stat().st_size > MAX_JOURNAL:
                notes.append(f"{journal}: over {MAX_JOURNAL // 2**20} MiB, not read: no importance or history")
                continue
            copy = tmp / f"{i}.journal"
            shutil.copyfile(journal, copy)
            storage = JournalStorage(JournalFileBackend(str(copy)))
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            for summary in storage.get_all_studies():
                study = optuna.load_study(study_name=summary.study_name, storage=storage)
                study.get_trials(deepcopy=False)  # read now: a damaged journal is this sweep's note
                studies.append(study)
        except Exception as e:  # noqa: BLE001 (a file from elsewhere: whatever is wrong with it is a note)
            notes.append(f"{journal}: not readable as an Optuna journal ({type(e).__name__}): no importance or history")
    return studies, notes


def search_spaces(studies: list[Any]) -> dict[str, dict[str, tuple[float, float]]]:
    """strategy -> {hyperparameter: (low, high)} from its study's distributions."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for study in studies:
        strategy = study.study_name.rsplit(".", 1)[-1]
        for t in study.get_trials(deepcopy=False):
            for name, d in t.distributions.items():
                if hasattr(d, "low") and hasattr(d, "high"):
                    out.setdefault(strategy, {})[name] = (float(d.low), float(d.high))
    return out


def optuna_figure(studies: list[Any], looks: Mapping[str, Look] | None) -> tuple[Any | None, list[str]]:
    """Per study with two or more completed trials: its optimisation history (each trial's first
    objective and the best so far) and Optuna's fANOVA parameter importance (seeded: the same
    numbers on every run)."""
    import matplotlib.pyplot as plt
    import optuna
    from matplotlib.ticker import MaxNLocator
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    rows, notes = [], []
    for study in studies:
        done = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                if t.values]
        if len(done) < 2:
            continue
        try:
            importance = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0),
                                               target=lambda t: t.values[0])
        except (RuntimeError, ValueError) as e:
            importance, why = {}, str(e).splitlines()[0] if str(e) else type(e).__name__
            notes.append(f"{study.study_name}: no parameter importance ({why})")
        rows.append((study, done, importance))
    if not rows:
        return None, notes
    metric = set_label((rows[0][0].metric_names or ["objective"])[0])
    with plt.rc_context({"font.size": SIZES["double"][1]}):
        fig, axes = plt.subplots(len(rows), 2, figsize=(SIZES["double"][0], 2.0 * len(rows) + 0.7), squeeze=False,
                                 layout="constrained")
        for (history, bars), (study, done, importance) in zip(axes, rows):
            name = legend_name(study.study_name.rsplit(".", 1)[-1], looks)
            numbers = [t.number for t in done]
            values = [t.values[0] for t in done]
            history.plot(numbers, values, "o", ms=3, color="#0072B2", label=metric)
            history.step(numbers, np.maximum.accumulate(values), where="post", color="#000000", lw=1,
                         label="best so far")
            history.set_title(f"{name}: optimisation history")
            history.set_xlabel("Optuna trial")
            history.xaxis.set_major_locator(MaxNLocator(integer=True))
            _percent(history)
            if len(importance) == 1:  # one parameter searched: its importance is 1 by construction
                bars.axis("off")
                bars.text(0.5, 0.5, f"{next(iter(importance))}: the one parameter searched\n(nothing to rank)",
                          ha="center", va="center", transform=bars.transAxes)
            elif importance:
                names = list(importance)[::-1]
                bars.barh(names, [importance[n] for n in names], color="#009E73", height=0.5)
                bars.set_xlim(0, 1)
                bars.set_ylim(-0.75, len(names) - 0.25)
            else:
                bars.text(0.5, 0.5, "no importance: see the notes", ha="center", va="center", transform=bars.transAxes)
            bars.set_title(f"{name}: parameter importance (fANOVA)")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False, fontsize="small")
    return fig, notes


def write_search_figures(points: pd.DataFrame, chosen: pd.DataFrame, columns: list[str], context: list[dict],
                         out: Path, looks: Mapping[str, Look] | None) -> tuple[SearchViews, list[Path]]:
    """learning_curves, hyperparameters and optuna .{png,svg,pdf}, where there is something to show."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    views, written = SearchViews(), []
    sets = ["id_val", "id_test", *[c for c in columns if c != "ood_avg"]]
    stopped = {t for info in context for t in info.get("stopped", ())}  # read with the sweep (`sweep_context`)
    with tempfile.TemporaryDirectory() as tmp:
        studies, notes = read_studies(context, Path(tmp))
        views.notes += notes
        found = searched(points, chosen, search_spaces(studies))
        optuna_fig, notes = optuna_figure(studies, looks)
        views.notes += notes
    views.warnings = bound_warnings(found, looks)
    for stem, fig, alt in (
            ("learning_curves", learning_curves(points, chosen, sets, stopped, looks),
             "learning curves of each strategy's selected configuration"),
            ("hyperparameters", hyperparameter_figure(points, found, looks) if found else None,
             "accuracy against each searched hyperparameter, its range's bounds marked"),
            ("optuna", optuna_fig, "Optuna's optimisation history and parameter importance per strategy")):
        if fig is None:
            continue
        written += save_formats(fig, out, stem)
        plt.close(fig)
        views.figures[stem] = alt
    return views, written
