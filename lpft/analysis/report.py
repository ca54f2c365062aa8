"""`lpft analyze`: selection -> tables, frontier points and effective robustness, written to a folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from lpft.analysis.adaptation import adaptation_table, split_adapted
from lpft.analysis.appearance import looks_for
from lpft.analysis.calibration import (
    Calibration,
    calibration_frame,
    calibration_notes,
    calibration_summary,
    ood_calibration_points,
    reliability_bins,
)
from lpft.analysis.calibration_plots import save_calibration_figures
from lpft.analysis.caveats import deterministic_strategies, eval_set_sizes, selection_notes
from lpft.analysis.comparisons import compare, sentences
from lpft.analysis.frontier import id_order, ownership, pareto_masks
from lpft.analysis.groups import base_strategy, split_groups
from lpft.analysis.html import render_html, sweep_context
from lpft.analysis.intervals import METHODS
from lpft.analysis.per_class import left_out_note, per_class_counts, write_per_class
from lpft.analysis.plots import figure_formats, save_figures
from lpft.analysis.robustness import ProbitFit, clipped, fit_baseline, robustness_table
from lpft.analysis.search import write_search_figures
from lpft.analysis.selection import SELECTIONS, wide
from lpft.analysis.tables import render, summarize
from lpft.calibration import RELIABILITY
from lpft.dataset import Skipped, load_results, step_hparams, sweep_folders
from lpft.errors import InputError
from lpft.looks import Look
from lpft.results import PER_CLASS

# What each trial must hold: the selection's ID val, the frontier's ID test, an OOD set to plot against.
ROLES = ("id_val", "id_test", "ood")
FORMATS = {"text": "table.txt", "md": "table.md", "latex": "table.tex", "csv": "table.csv"}


@dataclass
class Report:
    tables: dict[str, str]  # format -> rendered table
    sentence: str  # the comparisons (`comparisons.sentences`), one line each, with their intervals
    frontier: pd.DataFrame  # every (trial, step) point with on_frontier flags per OOD column
    robustness: pd.DataFrame  # per selected strategy: ID, OOD avg, effective robustness and its CI
    notes: list[str]
    owners: list[tuple[str, float, float]]  # who owns the OOD-average frontier, by ID range
    chosen: pd.DataFrame  # the selected models, one row per seed
    columns: list[str]  # the OOD sets, then ood_avg
    baseline: str
    selection: str
    fit: ProbitFit  # the baseline's probit line (OOD average on ID), for effective robustness
    adaptation: pd.DataFrame | None = None  # plain vs BatchNorm-adapted accuracy, when measured
    summary: tuple[list[str], dict] = ([], {})  # the results table's columns and cells (tables.summarize)
    context: list[dict] = field(default_factory=list)  # each folder's sweep, benchmark, backbone, trials
    robustness_by_set: pd.DataFrame | None = None  # effective robustness per strategy and eval set
    comparisons: pd.DataFrame | None = None  # strategy vs strategy with intervals (`comparisons.compare`)
    ci: str = "t"  # the interval method (`lpft.analysis.intervals.METHODS`)
    looks: dict[str, Look] = field(default_factory=dict)  # how each strategy is shown (`lpft.looks`)
    calibration: Calibration | None = None  # the selected models' ECE, NLL, Brier (None: not recorded)
    reliability: pd.DataFrame | None = None  # their reliability bins, seeds pooled (`reliability_bins`)
    calibration_points: pd.DataFrame | None = None  # every point's OOD ECE and OOD accuracy
    per_class: pd.DataFrame | None = None  # the selected models' accuracy per class (`per_class_counts`)


def frontier_points(points: pd.DataFrame, ood_columns: list[str]) -> pd.DataFrame:
    """Flags, per OOD column, the points on the overall frontier and on their strategy's own."""
    x = points["id_test"].to_numpy(float)
    codes = pd.factorize(points["strategy"])[0]
    ys = [points[col].to_numpy(float) for col in ood_columns]
    order = id_order(x)  # one sort: each strategy's order is the whole's, restricted to it
    overall = pareto_masks(x, ys, order)
    own = [np.zeros(len(x), bool) for _ in ood_columns]
    within = np.empty(len(x), int)  # each point's position among its strategy's points
    for k in range(codes.max() + 1 if len(codes) else 0):
        idx = np.flatnonzero(codes == k)
        within[idx] = np.arange(len(idx))
        for mask, sub in zip(own, pareto_masks(x[idx], [y[idx] for y in ys], within[order[codes[order] == k]])):
            mask[idx] = sub
    flags = {}
    for col, every, mine in zip(ood_columns, overall, own):
        flags[f"frontier.{col}"], flags[f"strategy_frontier.{col}"] = every, mine
    return pd.concat([points, pd.DataFrame(flags, index=points.index)], axis=1)


def analyze(paths: list[str], selection: str = "id_val", baseline: str = "ft", skip_bad: bool = False,
            ci: str = "t") -> Report:
    """The report of one sweep's results (or of one benchmark's sweeps side by side: `analyze_groups`)."""
    reports = analyze_groups(paths, selection, baseline, skip_bad, ci=ci)
    if len(reports) > 1:
        raise InputError(f"{', '.join(map(str, paths))}: results of {len(reports)} sweeps ({', '.join(reports)}); "
                         "analyze_groups reports each, or compares one benchmark's sweeps")
    return next(iter(reports.values()))


def analyze_groups(paths: list[str], selection: str = "id_val", baseline: str = "ft", skip_bad: bool = False,
                   compare: bool = False, ci: str = "t") -> dict[str, Report]:
    """A report per (benchmark, sweep), or with `compare` per benchmark (`lpft.analysis.groups`)."""
    # Evaluations recorded twice are counted by the pivot, not searched for in a million rows;
    # when there are some, the load's own check names (or with skip_bad leaves out) their trials.
    METHODS[ci]  # an unknown --ci: one line, before any file is read
    paths = sweep_folders(paths)  # a folder of sweep folders (the demo's): each sweep
    try:
        return _reports(paths, selection, baseline, skip_bad, compare, ci, checked=False)
    except _Repeated:
        return _reports(paths, selection, baseline, skip_bad, compare, ci, checked=True)


def _reports(paths: list[str], selection: str, baseline: str, skip_bad: bool, compare: bool, ci: str,
             checked: bool) -> dict[str, Report]:
    skipped: list[Skipped] = []
    # Which node ran a trial plays no part here (not reading it saves a long string per row),
    # nor hp.seed (the seed column is the same).
    loaded = load_results(paths, skip_bad=skip_bad, skipped=skipped,
                          without=("node", "hp.seed", *RELIABILITY, *PER_CLASS),
                          check_duplicates=checked, roles=ROLES)
    context = sweep_context([str(p) for p in paths])
    reports = {}
    for label, part in split_groups(loaded.frame, compare).items():
        sweeps = set(part["sweep"].unique().to_list()) if "sweep" in part.columns else set()
        reports[label] = _report(part, step_hparams(loaded.metadata), selection, baseline, skipped,
                                 [c for c in context if c["name"] in sweeps] or context, paths, ci, checked,
                                 loaded.metadata)
    return reports


class _Repeated(Exception):
    """An evaluation appears twice in an unchecked load: load again with the duplicates check."""


def _report(frame: pl.DataFrame, hparams: tuple[set[str], set[str]], selection: str, baseline: str,
            skipped: list[Skipped], context: list[dict], paths: list[str], ci: str, checked: bool,
            metadata: dict[bytes, bytes]) -> Report:
    sweeps = frame["sweep"].unique().to_list() if "sweep" in frame.columns else []  # the reliability read's filter
    df, adapted = split_adapted(frame.drop([c for c in ("sweep", "benchmark") if c in frame.columns]))
    if not df.height:
        raise InputError(f"{', '.join(map(str, paths))}: no plain evaluations to analyze (every row is "
                         "BatchNorm-adapted, adapt != 'none')")
    wide_points = wide(df, *hparams)  # one pivot for the selection and the frontiers
    keys = ["strategy", "trial_id", "step", "eval_set", "adapt"]
    if not checked and (wide_points.repeated or (not adapted.empty and adapted.duplicated(keys).any())):
        raise _Repeated
    chosen = SELECTIONS[selection]().select_points(wide_points)
    chosen.deterministic = deterministic_strategies(df)
    chosen.looks = looks_for(wide_points.frame["strategy"].unique(), metadata)
    points, ood = wide_points.frame, wide_points.ood_sets
    notes = [f"left out {len(skipped)} bad results file{'s' if len(skipped) > 1 else ''} (--skip-bad), "
             f"e.g. {skipped[0].path}: {skipped[0].reason}"] if skipped else []
    base = points[points.strategy.map(base_strategy) == baseline]  # a compared sweep's too
    if base.empty:
        raise InputError(f"--baseline {baseline!r}: no such strategy in the results "
                         f"(have: {', '.join(sorted(points.strategy.unique()))})")
    n_clipped = clipped(base[["id_test", "ood_avg"]].to_numpy())
    if n_clipped:
        notes.append(f"{n_clipped} baseline accuracies of exactly 0 or 1 were clipped before the probit transform")
    fit = fit_baseline(base["id_test"].to_numpy(), base["ood_avg"].to_numpy())
    columns = [*ood, "ood_avg"]
    by_set = robustness_table(chosen.frame, base, columns)
    robust = (by_set[by_set.eval_set == "ood_avg"].drop(columns="eval_set").rename(columns={"ood": "ood_avg"})
              .reset_index(drop=True))
    notes += selection_notes(chosen, eval_set_sizes(df), "id_val")
    versus = compare(chosen, ci)
    calibration = calibration_summary(df, chosen, ci)
    notes += calibration_notes(calibration) if calibration is not None else []
    reliability = reliability_bins(paths, chosen, sweeps[0] if len(sweeps) == 1 else None) \
        if calibration is not None else None
    if reliability is not None and reliability.attrs.get("left_out"):
        notes.append(f"reliability diagram: {reliability.attrs['left_out']} of the selected models' evaluations "
                     "left out (their bins are not lpft's: damaged or written by hand)")
    per_class, bad = per_class_counts(paths, chosen.frame, sweeps[0] if len(sweeps) == 1 else None)
    notes += left_out_note(bad)
    cal_points = ood_calibration_points(df, ood) if calibration is not None else None
    if cal_points is not None:
        cal_points = cal_points.merge(points[["strategy", "trial_id", "seed", "step", "ood_avg"]],
                                      on=["strategy", "trial_id", "seed", "step"])
    return Report({f: render(chosen, f, ci) for f in FORMATS}, "\n".join(sentences(versus, chosen.looks)),
                  frontier_points(points, columns), robust, notes,
                  ownership(points["strategy"].to_numpy(), points["id_test"].to_numpy(), points["ood_avg"].to_numpy()),
                  chosen.frame, columns, baseline, chosen.label, fit, adaptation_table(chosen.frame, adapted),
                  summarize(chosen, ci), context, by_set, versus, ci, chosen.looks, calibration, reliability,
                  cal_points, per_class)


def write_points_csv(points: pd.DataFrame, path: Path) -> None:
    """Every point with its frontier flags, compactly: 5 significant digits (0.1% resolution is
    what papers report; exact for eval sets of 10^4 or 10^5 examples) and flags as 0/1, so a
    million result rows make ~16 MB, not 37."""
    flags = [c for c in points.columns if points[c].dtype == bool]
    # `config` is the hp.* columns joined, for grouping: the columns themselves are written
    points.drop(columns=["config"]).astype(dict.fromkeys(flags, "int8")).to_csv(path, index=False, float_format="%.5g")


def write_report(report: Report, out: Path, figures: str = "all") -> list[Path]:
    """The report's files in `out`: tables, CSVs, figures (`figures`: all formats, or png only:
    `plots.FIGURE_FORMATS`) and report.html."""
    with figure_formats(figures):
        return _write_report(report, out)


def _write_report(report: Report, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in report.tables.items():
        path = out / FORMATS[name]
        path.write_text(text)
        written.append(path)
    write_points_csv(report.frontier, out / "frontier.csv")
    if report.comparisons is not None and not report.comparisons.empty:
        report.comparisons.to_csv(out / "comparisons.csv", index=False)
        written.append(out / "comparisons.csv")
    (report.robustness_by_set if report.robustness_by_set is not None else report.robustness).to_csv(
        out / "effective_robustness.csv", index=False)
    extra = []
    if report.calibration is not None:
        calibration_frame(report.calibration).to_csv(out / "calibration.csv", index=False)
        extra.append(out / "calibration.csv")
    if report.adaptation is not None and not report.adaptation.empty:
        report.adaptation.to_csv(out / "bn_adaptation.csv", index=False)
        extra.append(out / "bn_adaptation.csv")
    caveats = dict(zip(report.robustness.strategy, report.robustness.caveat))
    figures = save_figures(report.frontier, report.chosen, report.columns, report.baseline, report.selection, out,
                           caveats, report.looks or None)
    sets = ["id_val", *[c for c in report.columns if c != "ood_avg"]]
    figures += save_calibration_figures(report.reliability, sets, report.calibration_points, report.chosen, out,
                                        report.looks or None)
    search, search_figures = write_search_figures(report.frontier, report.chosen, report.columns, report.context, out,
                                                  report.looks or None)
    figures += search_figures
    classes, class_files = write_per_class(report.per_class, out, report.looks or None)
    search.figures.update(classes)
    figures += class_files
    files = [*written, out / "frontier.csv", out / "effective_robustness.csv", *extra, *figures]
    html = out / "report.html"
    html.write_text(render_html(report, out, out / "frontier_grid.png", files, search))
    return [*files, html]
