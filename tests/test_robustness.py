"""Effective robustness's bootstrap against a plain numpy/scipy one: its level, its seed, and the
resamples it must leave out (one distinct ID accuracy: no line through them)."""

import math

import numpy as np
import pytest
from scipy.stats import linregress, norm

from lpft.analysis.robustness import bootstrap_lines, seed_bootstrap_ci


def bootstrap_ci(base_id, base_ood, id_acc, ood_acc, n=1000, seed=0, level=0.9):
    """One model's (one seed's) interval: the baseline's points resampled, as the analysis does."""
    return seed_bootstrap_ci(bootstrap_lines(base_id, base_ood, n, seed), [id_acc], [ood_acc], seed, level)


def baseline(n=30, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.uniform(0.6, 0.9, n)
    oods = norm.cdf(1.2 * norm.ppf(ids) - 0.5) + rng.normal(0, 0.02, n)
    return ids, oods


def reference(ids, oods, model_id, model_ood, levels, draws=4000, seed=99):
    """The intervals by linregress on each resample: quantiles of the model's distance from each line."""
    rng = np.random.default_rng(seed)
    x, y = norm.ppf(ids), norm.ppf(oods)
    values = []
    for _ in range(draws):
        p = rng.integers(0, len(x), len(x))
        if np.ptp(x[p]) > 0:
            line = linregress(x[p], y[p])
            values.append(model_ood - norm.cdf(line.slope * norm.ppf(model_id) + line.intercept))
    return {level: tuple(np.quantile(values, [(1 - level) / 2, (1 + level) / 2])) for level in levels}


def test_the_interval_is_a_plain_bootstraps_at_the_level_asked():
    ids, oods = baseline()
    want = reference(ids, oods, 0.8, 0.6, (0.5, 0.9, 0.99))
    for level, interval in want.items():
        assert bootstrap_ci(ids, oods, 0.8, 0.6, n=4000, level=level) == pytest.approx(interval, abs=0.004), level


def test_the_seed_draws_the_resamples_and_either_draw_is_the_same_interval_within_its_error():
    ids, oods = baseline()
    a, b = bootstrap_ci(ids, oods, 0.8, 0.6, n=500, seed=0), bootstrap_ci(ids, oods, 0.8, 0.6, n=500, seed=1)
    assert a != b  # another seed, other resamples
    assert a == bootstrap_ci(ids, oods, 0.8, 0.6, n=500, seed=0)  # the same seed, the same interval
    assert a == pytest.approx(b, abs=0.01)
    assert bootstrap_lines(ids, oods, 50, seed=3) != bootstrap_lines(ids, oods, 50, seed=4)


def test_resamples_with_one_distinct_id_accuracy_are_left_out():
    # Four of five points share an ID accuracy: a resample of them alone, (4/5)^5 + (1/5)^5 of all
    # resamples, has no line through it.
    ids, oods = np.array([0.5, 0.5, 0.5, 0.5, 0.6]), np.array([0.3, 0.32, 0.31, 0.33, 0.4])
    fits = bootstrap_lines(ids, oods, 2000, seed=0)
    kept = 1 - (0.8 ** 5 + 0.2 ** 5)
    assert abs(len(fits) - 2000 * kept) < 5 * math.sqrt(2000 * kept * (1 - kept))
    assert all(math.isfinite(f.slope) and math.isfinite(f.intercept) for f in fits)
    lo, hi = bootstrap_ci(ids, oods, 0.55, 0.35)
    assert math.isfinite(lo) and math.isfinite(hi) and lo <= hi
    assert bootstrap_ci(np.full(5, 0.5), oods, 0.55, 0.35) == (pytest.approx(math.nan, nan_ok=True),) * 2


def test_the_caveats_say_the_shape_of_the_line_and_the_width_of_the_interval():
    from lpft.analysis.robustness import ProbitFit, line_problem, width_problem

    tail = ("on probit axes): among its models higher ID accuracy does not predict higher OOD accuracy, "
            "so distance from the line is not robustness")
    assert line_problem(ProbitFit(-0.5, 0.1)) == f"the baseline fit slopes down (slope -0.50 {tail}"
    assert line_problem(ProbitFit(0.0, 0.1)) == f"the baseline fit is flat (slope 0.00 {tail}"
    assert line_problem(ProbitFit(0.01, -3.0)) == ""
    assert width_problem(0.05, 0.17) == ("the 90% interval spans 12.0 points (over 10): more baseline points or "
                                         "seeds are needed before the sign means anything")
    assert width_problem(0.0, 0.1) == ""  # 10 points exactly: not over
    assert width_problem(0.0, 0.0999) == ""


def test_the_seed_bootstrap_resamples_the_strategys_seeds_as_a_plain_bootstrap_does():
    from lpft.analysis.robustness import seed_bootstrap_ci

    ids, oods = baseline()
    fits = bootstrap_lines(ids, oods, 3000, seed=0)
    seeds_id, seeds_ood = np.array([0.62, 0.75, 0.88]), np.array([0.5, 0.5, 0.5])  # the seeds disagree in ID only
    got = seed_bootstrap_ci(fits, seeds_id, seeds_ood, seed=0)
    rng = np.random.default_rng(7)
    values = []
    for f in fits:  # each line with its own resample of the seeds
        k = rng.integers(0, 3, 3)
        values.append(seeds_ood[k].mean() - norm.cdf(f.slope * norm.ppf(seeds_id[k].mean()) + f.intercept))
    assert got == pytest.approx(tuple(np.quantile(values, [0.05, 0.95])), abs=0.01)
    assert got == seed_bootstrap_ci(fits, list(seeds_id), list(seeds_ood), seed=0)  # reproducible, lists or arrays
    assert seed_bootstrap_ci([], seeds_id, seeds_ood) == (pytest.approx(math.nan, nan_ok=True),) * 2


def test_the_extrapolation_caveat_names_the_range_and_the_margin():
    from lpft.analysis.robustness import extrapolation

    base = np.array([0.6, 0.65, 0.7])
    assert extrapolation(base, 0.75) == ("extrapolated: ID 75.0% is outside the baseline's ID range 60.0–70.0% "
                                         "by more than 2 points")
    assert extrapolation(base, 0.71) == "" and extrapolation(base, 0.59) == ""


def test_a_baseline_line_needs_five_points_over_two_points_of_id_accuracy():
    """The report's caveats, word for word: five points are enough, four are not; a span of 2
    points of ID accuracy is enough, 1.99 is not."""
    from lpft.analysis.robustness import baseline_problem

    ok = [0.60, 0.61, 0.63, 0.62, 0.605]
    assert baseline_problem(ok) == "" and baseline_problem(np.array(ok)) == ""
    assert baseline_problem(ok[:4]) == (
        "too few baseline points (4, need 5): every evaluated step of every baseline trial is a point, so "
        "raise its num_samples or evaluate more often (epochs, eval_every)")
    assert baseline_problem([0.60, 0.605, 0.61, 0.615, 0.6199]) == (
        "baseline ID span too narrow (60.0–62.0%, need a span of 2.0 percentage points)")



def test_the_robustness_table_gives_each_strategys_mean_id_and_ood_accuracy_with_or_without_a_line():
    """effective_robustness.csv's id_test and ood columns: the selected models' means over seeds,
    per eval set (pandas here), whether or not the baseline can give a line."""
    import pandas as pd

    from lpft.analysis.robustness import robustness_table

    chosen = pd.DataFrame({"strategy": ["lp", "lp", "ft", "ft", "ft"], "id_test": [.70, .72, .80, .82, .84],
                           "p": [.50, .54, .40, .41, .45], "ood_avg": [.55, .57, .45, .47, .49]})
    base = pd.DataFrame({"id_test": [.70, .74, .78, .82, .86, .90], "p": [.30, .34, .37, .42, .44, .50],
                         "ood_avg": [.35, .38, .41, .45, .48, .52]})
    means = chosen.groupby("strategy")[["id_test", "p", "ood_avg"]].mean()
    for b, lined in ((base, True), (base.head(4), False)):
        table = robustness_table(chosen, b, ["p", "ood_avg"], n=50)
        assert len(table) == 4
        for r in table.itertuples():
            assert (r.id_test, r.ood) == pytest.approx((means.loc[r.strategy, "id_test"],
                                                        means.loc[r.strategy, r.eval_set])), r
            assert math.isnan(r.effective_robustness) != lined, r
            assert lined or r.caveat.startswith("too few baseline points (4, need 5)"), r


def test_a_models_caveats_are_all_given_one_after_another():
    """Far outside a scattered rising baseline: both caveats, joined, the extrapolation first."""
    import pandas as pd

    from lpft.analysis.robustness import robustness_table

    base = pd.DataFrame({"id_test": [.70, .74, .78, .82, .86, .90], "ood_avg": [.30, .55, .35, .60, .40, .65]})
    chosen = pd.DataFrame({"strategy": ["lp"], "id_test": [.60], "ood_avg": [.55]})
    (row,) = robustness_table(chosen, base, ["ood_avg"], n=200).itertuples()
    first, second, *rest = row.caveat.split("; ")
    assert first.startswith("extrapolated: ID 60.0% is outside the baseline's ID range 70.0–90.0%"), row.caveat
    assert second.startswith("the 90% interval spans") and not rest, row.caveat
    assert np.isfinite(row.effective_robustness)  # caveats, and still a number


def test_a_falling_or_flat_baseline_gives_no_number_only_the_reason():
    """Along a line where OOD falls (or stays) as ID rises, a model's distance above it says
    nothing about robustness: every strategy's row has the reason and no number or interval."""
    import pandas as pd

    from lpft.analysis.robustness import robustness_table

    chosen = pd.DataFrame({"strategy": ["lp", "ft"], "id_test": [.80, .85], "ood_avg": [.55, .45]})
    for ood, words in (([.50, .47, .43, .40, .36, .31], "slopes down"), ([.40] * 6, "is flat")):
        base = pd.DataFrame({"id_test": [.70, .74, .78, .82, .86, .90], "ood_avg": ood})
        table = robustness_table(chosen, base, ["ood_avg"], n=50)
        assert table[["effective_robustness", "er_ci90_low", "er_ci90_high"]].isna().all().all()
        assert all(c.startswith(f"the baseline fit {words}") for c in table.caveat), table.caveat
        assert dict(zip(table.strategy, table.ood)) == {"lp": .55, "ft": .45}  # the accuracies still reported


def test_a_baseline_spanning_exactly_the_minimum_is_enough():
    """The span rule is "at least MIN_BASELINE_SPAN": 0 to exactly that span passes, a hair less does not."""
    from lpft.analysis.robustness import MIN_BASELINE_SPAN, baseline_problem

    assert np.ptp([0.0, MIN_BASELINE_SPAN]) == MIN_BASELINE_SPAN  # exact in binary: the boundary itself
    assert baseline_problem([0.0, 0.0, 0.0, 0.0, MIN_BASELINE_SPAN]) == ""
    assert baseline_problem([0.0, 0.0, 0.0, 0.0, MIN_BASELINE_SPAN * 0.99]).startswith("baseline ID span too narrow")
