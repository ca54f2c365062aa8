"""`report.html`: one self-contained page (the figure embedded, so it can be mailed or attached
to a review) from a Jinja2 template: what was analysed, the results table, effective
robustness with its caveats, the frontier grid once, and links to the files beside it."""

from __future__ import annotations

import base64
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from lpft.analysis.calibration import calibration_rows, calibration_sentence
from lpft.analysis.incomplete import incomplete_note, read_trials
from lpft.analysis.intervals import LEVEL, METHODS
from lpft.analysis.robustness import shared_problem
from lpft.analysis.tables import Cell, _best, cell_text, interval_legend, owners_line
from lpft.looks import Look, look_of
from lpft.names import is_name
from lpft.results import STOPPED
from lpft.storage import locate
from lpft.text import pct


def sweep_context(paths: list[str]) -> list[dict[str, Any]]:
    """Per folder analysed: its sweep name, benchmark, backbone, weights, trials by status and,
    for an incomplete sweep, which strategies are short of their budget (`incomplete`), from the
    `spec.yaml` and `trials.parquet` a sweep leaves beside its results (when there)."""
    from lpft.safe_yaml import load_yaml

    out = []
    for raw in paths:
        root = locate(raw)
        if root.name == "results":
            root = root.parent
        info: dict[str, Any] = {"path": str(root), "name": root.name}
        try:
            spec = load_yaml((root / "spec.yaml").read_bytes(), str(root / "spec.yaml")) or {}
            backbone = spec.get("backbone") or {}
            name = spec.get("name")  # printed as the report's heading: a plain name, or the folder's
            info.update(name=name if is_name(name) else root.name, benchmark=(spec.get("benchmark") or {}).get("name"),
                        backbone=backbone.get("name"), weights=backbone.get("weights"))
        except (OSError, ValueError, AttributeError):
            pass
        try:
            trials, footer = read_trials(root)
            info["statuses"] = dict(sorted(Counter(trials["status"]).items()))
            info["incomplete"] = incomplete_note(trials["strategy"], trials["status"], footer)
            # the trials ASHA stopped early: the learning curves draw them fainter (`lpft.analysis.search`)
            info["stopped"] = [t for t, s in zip(trials["trial_id"], trials["status"]) if s == STOPPED]
        except (OSError, ValueError, KeyError):
            pass
        out.append(info)
    return out


def _pct(v: float) -> str:
    return pct(v, missing="–")


def _results_rows(columns: list[str], cells: dict[str, dict[str, Cell]], chosen: pd.DataFrame,
                  points: pd.DataFrame) -> list[dict]:
    best = _best(columns, cells)
    hp = [c for c in chosen.columns if c.startswith("hp.")]
    rows = []
    for strategy, row in cells.items():
        picked = chosen[chosen.strategy == strategy]
        # the hyperparameters the strategy's trials differ in: what its search chose
        tried = points[points.strategy == strategy]
        searched = [c for c in hp if tried[c].nunique(dropna=True) > 1]
        params = {c.removeprefix("hp."): picked[c].dropna().iloc[0] for c in searched if picked[c].notna().any()}
        rows.append({"strategy": strategy, "seeds": max(c.n for c in row.values()),
                     "hparams": ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                          for k, v in sorted(params.items()) if k != "seed"),
                     "cells": [{"text": cell_text(row[c]), "best": best.get(c) == strategy} for c in columns]})
    return rows


def _comparisons(table: pd.DataFrame | None, looks: dict[str, Look]) -> list[dict[str, str]]:
    """Each comparison's ID and OOD-average difference with its interval, as `comparisons.csv` has them."""
    if table is None or table.empty:
        return []
    out = []
    for (a, b), group in table.groupby(["strategy", "against"], sort=False):
        row = {"name": f"{look_of(a, looks).label} vs {look_of(b, looks).label}"}
        for r in group.itertuples():
            if r.metric not in ("id_test", "ood_avg"):
                continue
            ci = (f"{pct(r.ci_low, sign=True)} to {pct(r.ci_high, sign=True)}" if not math.isnan(r.ci_low)
                  else r.note if r.method == "exact" else f"none: {r.note}")
            how = {"paired": f"paired, {r.pairs} seeds", "welch": f"Welch, {r.n_strategy} vs {r.n_against} seeds",
                   "one-sample": f"{max(r.n_strategy, r.n_against)} seeds vs a deterministic run"}.get(r.method, "")
            row.update({f"{r.metric}": r.shown, f"{r.metric}_ci": ci, f"{r.metric}_how": how})
        out.append(row)
    return out


def _er(r: Any) -> dict[str, str]:
    """A robustness row's number and interval, in points ('–' and '' where there are none)."""
    er = pct(r.effective_robustness, sign=True, missing="–")
    ci = "" if math.isnan(r.er_ci90_low) else f"{pct(r.er_ci90_low, sign=True)} to {pct(r.er_ci90_high, sign=True)}"
    return {"er": er, "ci": ci}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lpft")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "(not installed)"


def _calibration(report: Any, out: Path) -> dict | None:
    """The calibration table's header and rows, as the console shows them (`render_calibration`)."""
    from lpft.analysis.plots import set_label

    cal = report.calibration
    if cal is None:
        return None
    rows = [{"strategy": r[0], "metric": r[1], "cells": r[2:]} for r in calibration_rows(cal)]
    figures = [{"alt": alt, "png": base64.b64encode((out / f"{stem}.png").read_bytes()).decode()}
               for stem, alt in (("reliability", "reliability diagrams of the selected models"),
                                 ("calibration_vs_accuracy", "OOD ECE against OOD accuracy, every model"))
               if (out / f"{stem}.png").is_file()]
    return {"headers": [set_label(s) for s in cal.sets], "rows": rows, "figures": figures,
            "sentence": calibration_sentence(cal, report.looks or None),
            "legend": f"{LEVEL:.0%} CI over seeds ({METHODS[report.ci].label})"}


def _search(search: Any, out: Path) -> dict | None:
    """The search's figures (embedded) and its warnings, for the page."""
    if search is None:
        return None
    figures = {stem: {"alt": alt, "png": base64.b64encode((out / f"{stem}.png").read_bytes()).decode()}
               for stem, alt in search.figures.items() if (out / f"{stem}.png").is_file()}
    return {"figures": figures, "warnings": search.warnings, "notes": search.notes}


def render_html(report: Any, out: Path, grid_png: Path, files: list[Path], search: Any = None) -> str:
    from jinja2 import Environment, PackageLoader

    from lpft.analysis.plots import legend_name, set_label

    columns, cells = report.summary
    # Always escaped: every value comes from files (strategy, set and sweep names), never markup.
    # (select_autoescape() keys on the extension, and this template ends in .j2: it escaped nothing.)
    env = Environment(loader=PackageLoader("lpft.analysis", "templates"), autoescape=True)
    # every table names a strategy as the figures and sentences do ("LP-FT"), in the Results table's order
    env.filters["label"] = lambda s: legend_name(str(s), report.looks or None)
    order = {s: i for i, s in enumerate(cells)}
    robust = [{"strategy": r.strategy, "id": _pct(r.id_test), "ood": _pct(r.ood_avg), **_er(r), "caveat": r.caveat}
              for r in sorted(report.robustness.itertuples(), key=lambda r: order.get(r.strategy, len(order)))]
    by_set, sets = [], []
    if report.robustness_by_set is not None and report.robustness_by_set.eval_set.nunique() > 2:
        table = report.robustness_by_set
        sets = [s for s in dict.fromkeys(table.eval_set) if s != "ood_avg"]  # the average: the table above
        for strategy, group in sorted(table.groupby("strategy", sort=False), key=lambda g: order.get(g[0], len(order))):
            er = {r.eval_set: r for r in group.itertuples()}
            by_set.append({"strategy": strategy, "cells": [{**_er(er[s]), "flag": bool(er[s].caveat)} for s in sets]})
    return env.get_template("report.html.j2").render(
        by_set=by_set, set_headers=[set_label(s) for s in sets],
        sweeps=report.context, version=_version(), generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        selection=report.selection, baseline=report.baseline, headers=[set_label(c) for c in columns],
        rows=_results_rows(columns, cells, report.chosen, report.frontier),
        legend=interval_legend(cells, report.ci), comparisons=_comparisons(report.comparisons, report.looks),
        no_er=shared_problem(report.robustness),
        owners=owners_line(report.owners), robust=robust, fit=report.fit, notes=report.notes,
        adaptation=report.adaptation if report.adaptation is not None and not report.adaptation.empty else None,
        calibration=_calibration(report, out), grid=base64.b64encode(grid_png.read_bytes()).decode(),
        search=_search(search, out),
        files=[f.name for f in files])
