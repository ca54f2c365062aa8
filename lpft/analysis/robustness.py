"""Effective robustness (imagenet-testbed): OOD − Φ(a·Φ⁻¹(ID) + b), a line fit on probit axes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import norm

EPS = 1e-4  # accuracies of exactly 0 or 1 are clipped to [EPS, 1 - EPS] before Φ⁻¹
# When a baseline line may be trusted (stated in the README): enough points, spread over
# enough ID accuracy, and a model within the ID range they cover (plus a margin).
MIN_BASELINE_POINTS = 5
MIN_BASELINE_SPAN = 0.02  # ID accuracy, max - min over the baseline's points
EXTRAPOLATION_MARGIN = 0.02  # ID accuracy beyond the baseline's range still read as covered
EXTRAPOLATED = "extrapolated"  # how a caveat that says so begins (plots mark those strategies)
MAX_CI_WIDTH = 0.10  # an interval wider than this (10 points) is said to be too wide to read


def probit(acc: ArrayLike) -> np.ndarray:
    return norm.ppf(np.clip(np.asarray(acc, float), EPS, 1 - EPS))


def clipped(acc: ArrayLike) -> int:
    """How many accuracies the probit transform had to clip."""
    a = np.asarray(acc, float)
    return int(((a < EPS) | (a > 1 - EPS)).sum())


@dataclass(frozen=True)
class ProbitFit:
    slope: float
    intercept: float

    def predict(self, id_acc: ArrayLike) -> np.ndarray:
        return norm.cdf(self.slope * probit(id_acc) + self.intercept)


def fit_baseline(id_acc: ArrayLike, ood_acc: ArrayLike) -> ProbitFit:
    return fit_line(probit(id_acc), probit(ood_acc))


def fit_line(x: np.ndarray, y: np.ndarray) -> ProbitFit:
    """Least squares y = slope·x + intercept on already-probit values (bootstraps transform once);
    no line (NaN) through points of one x."""
    mx, my = x.mean(), y.mean()
    spread = ((x - mx) ** 2).sum()
    if not spread > 0:
        return ProbitFit(float("nan"), float("nan"))
    slope = float(((x - mx) * (y - my)).sum() / spread)
    return ProbitFit(slope, float(my - slope * mx))


def bootstrap_lines(base_id: ArrayLike, base_ood: ArrayLike, n: int, seed: int = 0) -> list[ProbitFit]:
    """The baseline line refit on `n` resamples of its points (those with one distinct ID
    accuracy are skipped). Φ⁻¹ is taken once, not per resample: at a million rows the
    transform inside each refit was most of the analysis's time."""
    rng = np.random.default_rng(seed)
    x, y = probit(base_id), probit(base_ood)
    fits = []
    for _ in range(n):
        idx = rng.integers(0, len(x), len(x))
        if np.ptp(x[idx]) > 0:
            fits.append(fit_line(x[idx], y[idx]))
    return fits


def baseline_problem(base_id: ArrayLike) -> str:
    """Why no line fit on these baseline ID accuracies can be trusted ('' if one can)."""
    a = np.asarray(base_id, float)
    if len(a) < MIN_BASELINE_POINTS:
        return (f"too few baseline points ({len(a)}, need {MIN_BASELINE_POINTS}): every evaluated step of every "
                "baseline trial is a point, so raise its num_samples or evaluate more often (epochs, eval_every)")
    if np.ptp(a) < MIN_BASELINE_SPAN:
        return (f"baseline ID span too narrow ({100 * a.min():.1f}–{100 * a.max():.1f}%, need a span of "
                f"{100 * MIN_BASELINE_SPAN:.1f} percentage points)")
    return ""


def extrapolation(base_id: ArrayLike, id_acc: float) -> str:
    """'' if a model at `id_acc` lies within the baseline's ID range (plus the margin), else how far out."""
    lo, hi = float(np.min(base_id)), float(np.max(base_id))
    if lo - EXTRAPOLATION_MARGIN <= id_acc <= hi + EXTRAPOLATION_MARGIN:
        return ""
    return (f"{EXTRAPOLATED}: ID {100 * id_acc:.1f}% is outside the baseline's ID range "
            f"{100 * lo:.1f}–{100 * hi:.1f}% by more than {100 * EXTRAPOLATION_MARGIN:.0f} points")


def line_problem(fit: ProbitFit) -> str:
    """Why a fitted baseline line says nothing about robustness ('' when it slopes up)."""
    if not fit.slope > 0:
        shape = "is flat" if fit.slope == 0 else "slopes down"
        return (f"the baseline fit {shape} (slope {fit.slope:.2f} on probit axes): among its models higher ID "
                "accuracy does not predict higher OOD accuracy, so distance from the line is not robustness")
    return ""


def width_problem(lo: float, hi: float) -> str:
    """A caveat when an interval is too wide to support a claim ('' otherwise)."""
    if hi - lo > MAX_CI_WIDTH:
        return (f"the 90% interval spans {100 * (hi - lo):.1f} points (over {100 * MAX_CI_WIDTH:.0f}): "
                "more baseline points or seeds are needed before the sign means anything")
    return ""


def effective_robustness(id_acc: ArrayLike, ood_acc: ArrayLike, fit: ProbitFit) -> np.ndarray:
    return np.asarray(ood_acc, float) - fit.predict(id_acc)


def seed_bootstrap_ci(fits: list[ProbitFit], ids: ArrayLike, oods: ArrayLike, seed: int = 0,
                      level: float = 0.9) -> tuple[float, float]:
    """CI of a strategy's effective robustness over resampled baseline lines (`bootstrap_lines`)
    *and* resampled seeds of the strategy (`ids`, `oods`: one accuracy per seed). With one seed
    it resamples the baseline's points only (NaN when every resample had one distinct ID accuracy)."""
    if not fits:
        return float("nan"), float("nan")
    ids, oods = np.asarray(ids, float), np.asarray(oods, float)
    rng = np.random.default_rng(seed + 1)  # its own stream, apart from the lines' draws
    k = rng.integers(0, len(ids), (len(fits), len(ids)))  # one resample of the seeds per line
    slope = np.array([f.slope for f in fits])
    intercept = np.array([f.intercept for f in fits])
    values = oods[k].mean(axis=1) - norm.cdf(slope * probit(ids[k].mean(axis=1)) + intercept)  # all at once
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def shared_problem(robust: pd.DataFrame) -> str:
    """The baseline's own problem, when it withholds every number (to be said once, not per row)."""
    caveats = set(robust.caveat)
    return caveats.pop() if len(caveats) == 1 and robust.effective_robustness.isna().all() else ""


def robustness_table(chosen: pd.DataFrame, base: pd.DataFrame, columns: list[str], n: int = 1000) -> pd.DataFrame:
    """Per strategy and eval set (each OOD set and `ood_avg`): the selected models' mean ID and
    OOD accuracy, effective robustness against the baseline's line for that set, its 90%
    interval over baseline points and seeds, and a caveat ('' when the number can be trusted)."""
    rows = []
    problem = baseline_problem(base["id_test"].to_numpy())
    for column in columns:
        means = [(strategy, float(group["id_test"].mean()), float(group[column].mean()), group)
                 for strategy, group in chosen.groupby("strategy")]
        if problem:  # no line: no number, and the columns below left empty (NaN) say so
            rows += [{"strategy": s, "eval_set": column, "id_test": mid, "ood": mood, "caveat": problem}
                     for s, mid, mood, _ in means]
            continue
        fit = fit_baseline(base["id_test"], base[column])
        shape = line_problem(fit)
        if shape:  # a line along which OOD does not rise with ID: distance from it is no robustness
            rows += [{"strategy": s, "eval_set": column, "id_test": mid, "ood": mood, "caveat": shape}
                     for s, mid, mood, _ in means]
            continue
        fits = bootstrap_lines(base["id_test"], base[column], n)
        for strategy, mid, mood, group in means:
            lo, hi = seed_bootstrap_ci(fits, group["id_test"], group[column])
            caveat = "; ".join(c for c in (extrapolation(base["id_test"], mid), width_problem(lo, hi)) if c)
            rows.append({"strategy": strategy, "eval_set": column, "id_test": mid, "ood": mood,
                         "effective_robustness": float(effective_robustness(mid, mood, fit)),
                         "er_ci90_low": lo, "er_ci90_high": hi, "caveat": caveat})
    return pd.DataFrame(rows, columns=["strategy", "eval_set", "id_test", "ood", "effective_robustness",
                                       "er_ci90_low", "er_ci90_high", "caveat"])
