"""Test-time BatchNorm adaptation: extra rows beside the plain scores, never in their place."""

import numpy as np
import pandas as pd

from lpft.analysis.report import analyze
from lpft.dataset import write_trial
from lpft.strategies import hparam_columns
from lpft.trial import run_trial

DIGITS = {"n_train": 100, "n_val": 50, "n_test": 50, "n_ood": 30, "size": 32}
FT = {**DIGITS, "epochs": 2, "batch_size": 50, "lr": 0.01, "bn": "train"}


def by_key(result, adapt):
    return {(e.step, e.eval_set): e.accuracy for e in result.evaluations if e.adapt == adapt}


def test_ft_bn_adapt_adds_rows_and_leaves_plain_scores_alone():
    plain = run_trial("digits", "ft", FT).result
    both = run_trial("digits", "ft", {**FT, "bn_adapt": True}).result
    assert by_key(both, "none") == by_key(plain, "none")  # training and plain scores unchanged
    adapted = by_key(both, "bn")
    assert set(adapted) == set(by_key(plain, "none"))  # every eval set at every evaluated step
    assert adapted != by_key(both, "none")  # re-estimated statistics do change the scores
    assert both.selected_step == plain.selected_step and both.final == plain.final
    rows = both.rows(sweep="s", trial_id="t", seed=0)
    assert {r["adapt"] for r in rows} == {"none", "bn"} and all(r["hp.bn_adapt"] for r in rows)


def test_lp_bn_adapt_scores_every_c_on_adapted_features():
    lp = run_trial("digits", "lp", {**DIGITS, "num_cs": 4, "bn_adapt": True}).result
    plain, adapted = by_key(lp, "none"), by_key(lp, "bn")
    assert set(adapted) == set(plain) and len(plain) == 4 * 6
    assert adapted != plain


def test_no_batchnorm_means_no_adapted_rows():
    result = run_trial("synthetic", "ft", {"epochs": 20, "lr": 0.5, "bn_adapt": True}).result
    assert {e.adapt for e in result.evaluations} == {"none"}


def test_analysis_keeps_adapted_rows_out_of_tables_and_shows_the_split(tmp_path):
    for strategy, settings in (("ft", {**FT, "bn_adapt": True}), ("lp", {**DIGITS, "num_cs": 4})):
        result = run_trial("digits", strategy, settings).result
        write_trial(tmp_path, strategy, f"{strategy}-0", result.rows(sweep="s", trial_id=f"{strategy}-0", seed=0,
                                                                     benchmark="digits", node="n"),
                    hparam_columns())
    report = analyze([str(tmp_path)])
    ft = run_trial("digits", "ft", FT).result  # the same run without adaptation
    chosen = report.chosen.set_index("strategy")
    for name, acc in ft.final.items():
        assert chosen.loc["ft", name] == acc  # the tables' numbers are the plain ones
    table = report.adaptation
    assert set(table.strategy) == {"ft"} and set(table.eval_set) >= {"inverted", "noise", "id_test"}
    row = table[table.eval_set == "inverted"].iloc[0]
    assert np.isclose(row.delta, row.adapted - row.plain) and row.plain == ft.final["inverted"]
    df = pd.read_parquet(tmp_path)
    assert set(df.adapt) == {"none", "bn"}
