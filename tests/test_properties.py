"""Properties of the pure functions behind every published number (issue 31), on inputs
Hypothesis draws: each checked against a brute-force or scipy computation written here, never
against lpft's own helpers. The best config is the best mean over common seeds, whatever the
order of the trials; a frontier point is one nothing dominates, and every point has one that
covers it; intervals are scipy's; the probit line is linregress's; a trial's best step is the
earliest of its highest scores."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from lpft.analysis.frontier import pareto_mask
from lpft.analysis.intervals import difference_interval, mean_interval
from lpft.analysis.robustness import fit_line
from lpft.analysis.selection import best_per_trial
from lpft.best import Scored, best_config, config_key

settings.register_profile("lpft", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("lpft")

# Accuracies as a model's are: k correct of n, so ties and duplicates happen as they do in sweeps.
accuracy = st.integers(0, 20).map(lambda k: k / 20)
lr = st.sampled_from([1e-4, 3e-4, 1e-3, 3e-3, 0.01])


# ---- the best config ----------------------------------------------------------------------

trials = st.lists(st.tuples(lr, st.integers(0, 2), st.one_of(accuracy, st.just(math.nan))), min_size=1, max_size=12)


def brute_best(rows):
    """Highest mean over the seeds every config ran (each seed's repeats averaged, NaNs out);
    a tie to the smallest learning rate; a config with no finite score ranks last."""
    by = {}
    for lr_, seed, score in rows:
        by.setdefault(lr_, {}).setdefault(seed, []).append(score)
    common = set.intersection(*(set(s) for s in by.values()))
    means = {}
    for lr_, seeds in by.items():
        per_seed = []
        for seed, scores in seeds.items():
            finite = [x for x in scores if not math.isnan(x)]
            if (not common or seed in common) and finite:
                per_seed.append(math.fsum(finite) / len(finite))
        means[lr_] = math.fsum(per_seed) / len(per_seed) if per_seed else -math.inf
    top = max(means.values())
    return min(lr_ for lr_, m in means.items() if m == top)


@given(trials, st.randoms(use_true_random=False))
def test_the_best_config_is_the_best_common_seed_mean_in_any_order(rows, rnd):
    scored = [Scored(config_key({"lr": lr_, "seed": seed}), seed, score) for lr_, seed, score in rows]
    winner = best_config(scored)
    expected = brute_best(rows)
    assert winner == config_key({"lr": expected})
    rnd.shuffle(scored)
    assert best_config(scored) == winner  # which trial ended first changes nothing


# ---- the Pareto frontier ------------------------------------------------------------------

points = st.lists(st.tuples(accuracy, st.one_of(accuracy, st.just(math.nan))), max_size=25)


@given(points, st.randoms(use_true_random=False))
def test_the_frontier_is_the_non_dominated_points_once_each_and_covers_the_rest(pts, rnd):
    x = np.array([p[0] for p in pts], float)
    y = np.array([p[1] for p in pts], float)
    mask = pareto_mask(x, y)
    finite = [(a, b) for a, b in pts if not math.isnan(b)]

    def dominated(a, b):
        return any(c >= a and d >= b and (c > a or d > b) for c, d in finite)

    on = [pts[i] for i in np.flatnonzero(mask)]
    assert len(set(on)) == len(on)  # duplicates: one kept
    assert set(on) == {p for p in finite if not dominated(*p)}  # exactly the non-dominated points
    for a, b in finite:  # every point has a frontier point at least as good in both
        assert any(c >= a and d >= b for c, d in on)
    order = list(range(len(pts)))
    rnd.shuffle(order)
    assert {pts[i] for i in order if pareto_mask(x[order], y[order])[order.index(i)]} == set(on)


# ---- intervals ----------------------------------------------------------------------------

seeds = st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=8)


@given(seeds, st.sampled_from([0.8, 0.9, 0.95]))
def test_the_mean_interval_is_scipys_t_interval(values, level):
    assume(np.ptp(values) > 1e-9)
    est = mean_interval(values, "t", level)
    lo, hi = stats.t.interval(level, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert est.low == pytest.approx(lo, abs=1e-9) and est.high == pytest.approx(hi, abs=1e-9)


@given(seeds)
def test_identical_seeds_get_no_interval_never_zero(values):
    est = mean_interval([values[0]] * len(values))
    assert math.isnan(est.half) and est.why == "identical"


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=2, max_size=8))
def test_a_paired_difference_is_scipys_paired_t_interval(pairs):
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    d = np.subtract(a, b)
    assume(np.ptp(d) > 1e-9)
    got = difference_interval(dict(enumerate(a)), dict(enumerate(b)))
    ci = stats.ttest_rel(a, b).confidence_interval(0.9)
    assert got.kind == "paired"
    assert (got.low, got.high) == pytest.approx((ci.low, ci.high), abs=1e-9)


@given(seeds, seeds)
def test_without_common_seeds_the_difference_is_welchs(a, b):
    assume(np.ptp(a) > 1e-9 and np.ptp(b) > 1e-9)
    got = difference_interval(dict(enumerate(a)), {100 + i: v for i, v in enumerate(b)})
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.9)
    assert got.kind == "welch"
    assert (got.low, got.high) == pytest.approx((ci.low, ci.high), abs=1e-9)


# ---- the probit line ----------------------------------------------------------------------

@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=2, max_size=20))
def test_the_probit_line_is_linregress(xy):
    x, y = np.array(xy).T
    assume(np.ptp(x) > 1e-6)
    fit, ref = fit_line(x, y), stats.linregress(x, y)
    assert fit.slope == pytest.approx(ref.slope, abs=1e-7) and fit.intercept == pytest.approx(ref.intercept, abs=1e-7)


def test_no_line_through_points_of_one_id_accuracy():
    """One x: no least-squares line (linregress raises there); both coefficients NaN, not None
    and not a division's warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_line(np.full(4, 0.3), np.array([0.1, 0.2, 0.3, 0.5]))
    assert math.isnan(fit.slope) and math.isnan(fit.intercept)


# ---- a trial's best step ------------------------------------------------------------------

@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 5), st.one_of(accuracy, st.just(math.nan))),
                min_size=1, max_size=20, unique_by=lambda r: (r[0], r[1])), st.randoms(use_true_random=False))
def test_each_trials_best_step_is_the_earliest_of_its_highest_scores(rows, rnd):
    rnd.shuffle(rows)
    w = pd.DataFrame(rows, columns=["trial_id", "step", "score"])
    got = best_per_trial(w, w["score"].to_numpy())
    assert list(got.trial_id) == sorted(set(w.trial_id))
    for trial, part in w.groupby("trial_id"):
        finite = part.dropna(subset=["score"])
        # no score at all: its earliest step (NaN)
        expected = finite[finite.score == finite.score.max()].step.min() if len(finite) else part.step.min()
        assert got.loc[got.trial_id == trial, "step"].item() == expected, (trial, part)


def test_a_tie_on_score_and_step_within_a_trial_keeps_its_first_row():
    """The docstring's last tie rule, by hand: two rows of one trial at one step with one score
    (which `wide` never leaves, but a caller may) give the first of them, once; 40 rows so that
    numpy's argsort is not an insertion sort, where any sort would be stable."""
    rows = [("a", 0, 0.5, 0), ("b", 3, 0.9, 1), ("b", 3, 0.9, 2), ("c", 1, 0.7, 3)]
    rows += [("d", s, 0.1, 4 + s) for s in range(36)]  # d's earliest step wins its tie: step 0
    w = pd.DataFrame(rows[::-1], columns=["trial_id", "step", "score", "row"])  # b's second row comes first here
    got = best_per_trial(w, w["score"].to_numpy())
    assert got[["trial_id", "step", "row"]].values.tolist() == [["a", 0, 0], ["b", 3, 2], ["c", 1, 3], ["d", 0, 4]]
