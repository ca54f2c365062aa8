"""Intervals over seeds, comparisons and selection caveats, each against an independent
computation (scipy's t-tests and quantiles, or a case worked by hand)."""

import dataclasses
import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lpft.analysis.intervals import difference_interval, mean_interval
from lpft.dataset import HparamColumns, write_trial
from lpft.text import pct, shown_difference

HPARAMS = HparamColumns({"lr": float, "seed": int})


@pytest.mark.parametrize("values", [[0.5, 0.6], [0.71, 0.74, 0.69], [0.1, 0.4, 0.35, 0.2, 0.3]])
def test_mean_interval_is_scipys_t_interval(values):
    est = mean_interval(values)
    lo, hi = stats.t.interval(0.9, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert (est.low, est.high) == pytest.approx((lo, hi))
    # the paper's rule, for reproducing its tables: 1.645 standard errors
    z = mean_interval(values, "z")
    assert z.half == pytest.approx(1.645 * np.std(values, ddof=1) / np.sqrt(len(values)))


def test_one_seed_and_identical_seeds_give_no_interval():
    one, same = mean_interval([0.8]), mean_interval([0.8, 0.8, 0.8])
    assert np.isnan(one.half) and one.why == "one seed" and one.n == 1
    assert np.isnan(same.half) and same.why == "identical" and same.n == 3
    assert mean_interval([0.8, float("nan"), 0.9]).n == 2  # a missing score is no seed


def test_paired_difference_is_scipys_paired_t_interval():
    a, b = {0: .90, 1: .92, 2: .95}, {0: .80, 1: .85, 2: .83, 3: .99}  # seed 3: b only, not a pair
    d = difference_interval(a, b)
    ref = stats.ttest_rel([.90, .92, .95], [.80, .85, .83]).confidence_interval(0.9)
    assert d.kind == "paired" and d.pairs == 3 and (d.low, d.high) == pytest.approx((ref.low, ref.high))


def test_welch_difference_without_common_seeds_is_scipys():
    a, b = {0: .90, 1: .92, 2: .95}, {5: .80, 6: .85}
    d = difference_interval(a, b)
    ref = stats.ttest_ind([.90, .92, .95], [.80, .85], equal_var=False)
    assert d.kind == "welch" and d.df == pytest.approx(ref.df)
    assert (d.low, d.high) == pytest.approx(tuple(ref.confidence_interval(0.9)))
    for level in (0.5, 0.99):  # at the level asked, as the paired interval is
        d = difference_interval(a, b, level=level)
        assert (d.low, d.high) == pytest.approx(tuple(ref.confidence_interval(level))), level


def test_differences_without_spread_give_no_interval():
    assert np.isnan(difference_interval({0: .9}, {0: .8}).half)
    same = difference_interval({0: .9, 1: .8}, {0: .7, 1: .6})  # +0.2 on both seeds: no spread to estimate
    assert same.diff == pytest.approx(0.2) and np.isnan(same.half) and same.why


@pytest.mark.parametrize("x, shown", [(0.5095, "51.0"), (0.50949, "50.9"), (0.8625, "86.3"), (0.0, "0.0"),
                                      (1.0, "100.0"), (-0.00049, "0.0"), (None, "-"), (float("nan"), "-")])
def test_one_rounding_half_up(x, shown):
    assert pct(x) == shown


def test_a_shown_difference_is_the_difference_of_the_shown_values():
    # 81.25 -> 81.3 and 77.44 -> 77.4 shown: the sentence says +3.9, the rounded difference would be +3.8
    assert shown_difference(0.8125, 0.7744) == "+3.9"


def rows(strategy, trial, seed, lr, accs, n=None, step=1):
    names = (("id_val", "id_val"), ("id_test", "id_test"), ("shift", "ood"))
    return [{"sweep": "s", "strategy": strategy, "trial_id": trial, "seed": seed, "step": step, "eval_set": e,
             "role": r, "accuracy": a, "hp.lr": lr, "hp.seed": seed, "n_examples": n} for (e, r), a in zip(names, accs)]


@pytest.fixture
def three_seeds(tmp_path):
    """LP (one config) and FT (two lrs, the better on three seeds) and LP-FT, by hand."""
    data = {("lp", "l0", 0, None): (.70, .72, .60), ("lp", "l1", 1, None): (.71, .73, .61),
            ("lp", "l2", 2, None): (.70, .71, .63),
            ("ft", "f0", 0, 0.1): (.90, .91, .50), ("ft", "f1", 1, 0.1): (.91, .93, .55),
            ("ft", "f2", 2, 0.1): (.92, .90, .52), ("ft", "g0", 0, 1.0): (.85, .88, .45),
            ("lpft", "p0", 0, 0.01): (.89, .92, .64), ("lpft", "p1", 1, 0.01): (.90, .94, .60),
            ("lpft", "p2", 2, 0.01): (.91, .93, .66)}
    for (strategy, trial, seed, lr), accs in data.items():
        write_trial(tmp_path / "results", strategy, trial, rows(strategy, trial, seed, lr, accs, n=150), HPARAMS)
    return tmp_path


def test_comparisons_csv_console_and_html_agree_with_scipy(three_seeds, tmp_path, capsys):
    from lpft.cli import main

    assert main(["analyze", str(three_seeds), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "r" / "comparisons.csv", dtype={"shown": str})
    lpft_vs_ft = table[(table.strategy == "lpft") & (table.against == "ft") & (table.metric == "ood_avg")].iloc[0]
    ref = stats.ttest_rel([.64, .60, .66], [.50, .55, .52]).confidence_interval(0.9)
    assert lpft_vs_ft.method == "paired" and lpft_vs_ft.pairs == 3
    assert (lpft_vs_ft.ci_low, lpft_vs_ft.ci_high) == pytest.approx((ref.low, ref.high))
    # 63.3 - 52.3 as the table shows them
    assert lpft_vs_ft.shown == "+11.0"
    line = next(ln for ln in out.splitlines() if ln.startswith("LP-FT vs FT"))
    assert f"+11.0 OOD (90% CI {100 * ref.low:+.1f} to {100 * ref.high:+.1f}, paired over 3 seeds)" in line
    html = (tmp_path / "r" / "report.html").read_text()
    assert "LP-FT vs FT" in html and f"{100 * ref.low:+.1f} to {100 * ref.high:+.1f}" in html
    # the table above the sentence shows the two means whose difference the sentence states
    text = (tmp_path / "r" / "table.txt").read_text()
    assert "63.3 ± " in text and "52.3 ± " in text


def test_small_validation_sets_and_ties_are_said(three_seeds, tmp_path, capsys):
    from lpft.cli import main

    # a second LP-FT config scoring exactly the winner's ID val on the search seed
    write_trial(three_seeds / "results", "lpft", "q0", rows("lpft", "q0", 0, 0.02, (.89, .80, .40), n=150), HPARAMS)
    assert main(["analyze", str(three_seeds), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "note: small validation set: id_val has 150 examples, so ID val accuracy moves in steps of 0.67 points" \
        in out
    assert "note: selection tie: lpft (1 other config at id_val 89.0)" in out
    html = (tmp_path / "r" / "report.html").read_text()
    assert "small validation set" in html and "selection tie" in html


def test_a_large_validation_set_without_ties_says_nothing(tmp_path, capsys):
    from lpft.cli import main

    for i, (lr, acc) in enumerate(((0.1, .9), (1.0, .8))):
        write_trial(tmp_path / "results", "ft", f"f{i}", rows("ft", f"f{i}", 0, lr, (acc, acc, .5), n=1000), HPARAMS)
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "small validation set" not in out and "selection tie" not in out


@pytest.mark.parametrize("slope_sign, words", [(0, "is flat"), (-1, "slopes down")])
def test_effective_robustness_caveats_on_a_flat_or_falling_baseline(tmp_path, slope_sign, words, capsys):
    from lpft.analysis.report import analyze
    from lpft.cli import main

    # six FT points over ID 80-90%, their OOD flat or falling with ID; LP within their range
    for i in range(6):
        acc = .80 + i / 50
        ood = .50 + slope_sign * i / 100
        write_trial(tmp_path / "results", "ft", f"f{i}", rows("ft", f"f{i}", 0, 0.1 * (i + 1), (acc, acc, ood)),
                    HPARAMS)
    write_trial(tmp_path / "results", "lp", "l", rows("lp", "l", 0, None, (.85, .85, .6)), HPARAMS)
    robust = analyze([tmp_path]).robustness.set_index("strategy")
    # no number: distance from a line along which OOD does not rise with ID is not robustness
    assert robust.loc["lp", "caveat"].startswith(f"the baseline fit {words}")
    assert robust[["effective_robustness", "er_ci90_low", "er_ci90_high"]].isna().all().all()
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out.split("effective robustness vs", 1)[1]
    assert f"probit fit: none: the baseline fit {words}" in out.splitlines()[0]
    assert out.count(f"the baseline fit {words}") == 1 and "points (90% CI" not in out  # once, no number
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count(f"the baseline fit {words}") == 1  # said once, for every strategy


def test_no_fit_formula_without_a_number_and_the_hint_says_how(tmp_path, capsys):
    from lpft.cli import main

    for i in range(2):  # two FT trials, two steps each: four points, one short
        write_trial(tmp_path / "results", "ft", f"f{i}",
                    rows("ft", f"f{i}", 0, 0.1 * (i + 1), (.8, .8 + i / 20, .5), step=1)
                    + rows("ft", f"f{i}", 0, 0.1 * (i + 1), (.81, .82 + i / 20, .52), step=2), HPARAMS)
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "effective robustness vs the ft probit fit:" in out and "Φ(" not in out
    assert "too few baseline points (4, need 5)" in out and "num_samples" in out


def test_the_csv_table_names_its_interval_in_its_columns(three_seeds):
    from lpft.analysis.report import analyze

    csv = pd.read_csv(io.StringIO(analyze([three_seeds], ci="z").tables["csv"]))
    assert "ood_avg_ci90_z" in csv.columns and "ood_avg_ci90_t" not in csv.columns
    assert set(csv.interval) == {"normal 1.645·s/√n, the paper's rule"}


def test_against_a_deterministic_run_the_interval_is_the_other_sides_own():
    """LP deterministic (one exact value), FT on three seeds: FT − LP's interval is FT's t-interval shifted."""
    ft, lp = {0: .90, 1: .93, 2: .95}, {0: .80}
    d = difference_interval(ft, lp, constant="b")
    lo, hi = stats.t.interval(0.9, 2, loc=np.mean(list(ft.values())), scale=stats.sem(list(ft.values())))
    assert d.kind == "one-sample" and (d.low, d.high) == pytest.approx((lo - .80, hi - .80))
    flipped = difference_interval(lp, ft, constant="a")
    assert (flipped.low, flipped.high) == pytest.approx((.80 - hi, .80 - lo))
    exact = difference_interval({0: .8}, {0: .7}, constant="ab")
    assert exact.kind == "exact" and exact.diff == pytest.approx(0.1) and np.isnan(exact.half)


@pytest.mark.parametrize("weights", ["benchmark", "none"])
def test_lps_declaration_holds_its_seed_changes_nothing_on_fixed_features(weights):
    """What LP declares is checked by running it: on a fixed backbone two seeds give identical
    evaluations and it declares nothing; on a backbone drawn from the seed they differ and it says so."""
    from lpft.trial import run_trial

    bench = {"eps": 0.1, "n_train": 200, "n_val": 100, "n_test": 100, "n_ood": 100, "num_cs": 5, "weights": weights}
    runs = [run_trial("synthetic", "lp", {**bench, "seed": seed}) for seed in (0, 1)]
    same = [(e.step, e.eval_set, e.accuracy) for e in runs[0].result.evaluations] == \
        [(e.step, e.eval_set, e.accuracy) for e in runs[1].result.evaluations]
    if weights == "benchmark":
        assert same and runs[0].seed_controls == ()
    else:
        assert not same and runs[0].seed_controls == ("backbone init",)


def test_resample_split_makes_the_seed_draw_the_split():
    from lpft.trial import run_trial

    bench = {"eps": 0.1, "n_train": 200, "n_val": 100, "n_test": 100, "n_ood": 100, "num_cs": 5,
             "resample_split": "true"}
    runs = [run_trial("synthetic", "lp", {**bench, "seed": seed}) for seed in (0, 1)]
    assert runs[0].seed_controls == ("ID train/val split",)
    assert [e.accuracy for e in runs[0].result.evaluations] != [e.accuracy for e in runs[1].result.evaluations]


def test_strategy_names_are_text_in_every_format(tmp_path):
    """A name from the files is text: escaped in LaTeX and Markdown, and in the HTML page (never
    markup). A strategy folder whose name is markup is no lpft name at all: refused, naming it."""
    import html

    from lpft.analysis.report import analyze, write_report
    from lpft.errors import InputError

    odd = "my_ft"
    for i, (strategy, lr, accs) in enumerate((("ft", 0.1, (.9, .9, .5)), (odd, 0.2, (.8, .8, .6)))):
        write_trial(tmp_path / "results", strategy, f"t{i}", rows(strategy, f"t{i}", 0, lr, accs), HPARAMS)
    markup = "<b>x&y"  # the sweep's spec.yaml is shown as it is (its backbone), escaped
    (tmp_path / "spec.yaml").write_text(f"name: s\nbackbone: {{name: '{markup}'}}\n")
    report = analyze([tmp_path])
    latex, md = report.tables["latex"], report.tables["md"]
    assert r"my\_ft" in latex and odd not in latex
    assert r"my\_ft" in md
    write_report(report, tmp_path / "r")
    page = (tmp_path / "r" / "report.html").read_text()
    assert "<b>x" not in page and html.escape(markup) in page
    hostile = "my_ft&<b>x"
    write_trial(tmp_path / "results", hostile, "t2", rows(hostile, "t2", 0, 0.3, (.8, .8, .6)), HPARAMS)
    with pytest.raises(InputError, match=r"strategy=my_ft&<b>x/t2.parquet: strategy 'my_ft&<b>x' is not a plain name"):
        analyze([tmp_path])


def test_a_strategy_name_that_is_no_folder_name_is_refused():
    from lpft.errors import InputError
    from lpft.strategies import STRATEGIES, strategy
    from lpft.strategies.ft import FTParams

    with pytest.raises(InputError, match="it names a folder"):
        strategy("a/b", FTParams, "a name with a separator")(lambda *a, **k: None)
    assert "a/b" not in STRATEGIES


def _fields(d) -> list:
    """A Difference as a list that compares NaN equal to NaN and floats to 1e-12."""
    return [("nan" if isinstance(v, float) and math.isnan(v) else pytest.approx(v, abs=1e-12))
            if isinstance(v, float) else v for v in dataclasses.astuple(d)]


def test_every_field_of_a_difference_in_each_case_is_the_hand_worked_one():
    from scipy import stats

    from lpft.analysis.intervals import Difference, difference_interval

    nan = math.nan

    def check(got, *want):
        assert _fields(got) == _fields(Difference(*want))

    # both deterministic: exact; a NaN seed is dropped, not counted
    check(difference_interval({0: 0.75}, {0: 0.5, 1: nan}, constant="ab"),
          0.25, nan, "exact", 1, 1, 0, nan, "both deterministic: exact")
    # one side deterministic: the other's one-sample t interval at the level asked, shifted
    v = [0.80, 0.84, 0.86]
    half95 = stats.t.ppf(0.975, 2) * stats.tstd(v) / math.sqrt(3)
    check(difference_interval(dict(enumerate(v)), {0: 0.7}, constant="b", level=0.95),
          sum(v) / 3 - 0.7, half95, "one-sample", 3, 1, 0, 2.0, "")
    check(difference_interval({0: 0.7}, {**dict(enumerate(v)), 5: nan}, constant="a", level=0.95),
          0.7 - sum(v) / 3, half95, "one-sample", 1, 3, 0, 2.0, "")
    two = [0.5, 0.75]
    check(difference_interval(dict(enumerate(two)), {0: 0.25}, constant="b"),
          0.375, stats.t.ppf(0.95, 1) * stats.tstd(two) / math.sqrt(2), "one-sample", 2, 1, 0, 1.0, "")
    check(difference_interval({3: 0.5}, {0: 0.25}, constant="b"),
          0.25, nan, "one-sample", 1, 1, 0, nan, "one seed against a deterministic run")
    # paired, the same difference on every seed (binary-exact values): no interval, said why
    check(difference_interval({0: 0.75, 1: 0.5, 2: 0.5}, {0: 0.5, 1: 0.25}),
          0.25, nan, "paired", 3, 2, 2, 1, "the same difference on every seed")
    check(difference_interval({0: 0.5, 1: None}, {0: 0.25, 1: None}, constant="ab"),  # None: no value, as NaN
          0.25, nan, "exact", 1, 1, 0, nan, "both deterministic: exact")
    # paired with a spread, at the level asked: ttest_rel's interval
    a, b = [0.80, 0.84, 0.86], [0.70, 0.71, 0.74]
    paired = stats.ttest_rel(a, b).confidence_interval(0.95)
    check(difference_interval(dict(enumerate(a)), dict(enumerate(b)), level=0.95),
          float(np.mean(a) - np.mean(b)), (paired.high - paired.low) / 2, "paired", 3, 3, 3, 2, "")
    # no common seeds: Welch's interval and degrees of freedom
    a, b = [0.5, 0.75], [0.25, 0.5, 0.0]
    welch = stats.ttest_ind(a, b, equal_var=False)
    ci = welch.confidence_interval(0.9)
    check(difference_interval({0: a[0], 1: a[1]}, {2: b[0], 3: b[1], 4: b[2]}),
          float(np.mean(a) - np.mean(b)), (ci.high - ci.low) / 2, "welch", 2, 3, 0, float(welch.df), "")
    check(difference_interval({0: 0.5, 1: 0.5}, {2: 0.25, 3: 0.25}), 0.25, nan, "welch", 2, 2, 0, nan,
          "no spread in either")
    # too little to say
    check(difference_interval({}, {0: 0.5}), nan, nan, "none", 0, 1, 0, nan, "no value")
    check(difference_interval({0: 0.5}, {1: nan}), nan, nan, "none", 1, 0, 0, nan, "no value")
    check(difference_interval({0: 0.5}, {1: 0.25}), 0.25, nan, "none", 1, 1, 0, nan, "one seed")
    check(difference_interval({0: 0.5, 1: 0.75}, {1: 0.25}), 0.375, nan, "none", 2, 1, 1, nan, "one seed on one side")


def test_every_estimate_carries_its_sd_and_its_method():
    """The CSV publishes each cell's sd and names its interval method from the Estimate itself."""
    v = [0.80, 0.84, 0.86]
    spread = mean_interval(v, "z")
    assert spread.sd == pytest.approx(np.std(v, ddof=1), abs=1e-15) and spread.method == "z" and spread.why == ""
    same = mean_interval([0.5, 0.5], "z")
    assert (same.sd, same.method, same.why) == (0.0, "z", "identical") and math.isnan(same.half)
    one = mean_interval([0.5], "z")
    assert (one.method, one.why, one.n) == ("z", "one seed", 1) and math.isnan(one.half) and math.isnan(one.sd)
    none = mean_interval([math.nan], "z")
    assert (none.method, none.why, none.n) == ("z", "no value", 0) and math.isnan(none.half) and math.isnan(none.mean)
