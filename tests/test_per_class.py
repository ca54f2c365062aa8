"""Per-class accuracy and confusion (issue 29, item 1): what a trial records for every
evaluation, checked against scikit-learn's confusion matrix, and what the report pools over the
selected seeds, checked against a plain pandas sum of the written rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix
from test_analysis import HPARAMS, rows

from lpft.analysis.report import analyze, write_report
from lpft.dataset import write_trial
from lpft.results import CONFUSION_MAX
from lpft.strategies.scoring import EvalSet, per_class, score


def test_a_scores_counts_are_scikit_learns_confusion_matrix():
    rng = np.random.default_rng(0)
    labels, logits = rng.integers(0, 7, 500), rng.normal(size=(500, 7))
    e = score(3, logits, EvalSet("ood", "ood", labels), None, calibrate=False)
    want = confusion_matrix(labels, logits.argmax(1), labels=range(7))
    assert np.array_equal(np.reshape(e.per_class["confusion"], (7, 7)), want)
    assert e.per_class["class_count"] == want.sum(1).tolist() and e.per_class["class_correct"] == np.diag(want).tolist()
    assert sum(e.per_class["class_correct"]) / 500 == pytest.approx(e.accuracy)
    # an OOD set scored over some classes: predictions among those, counts still over all
    sub = EvalSet("night", "ood", labels[labels < 3], classes=np.array([0, 1, 2]))
    e = score(3, logits[labels < 3], sub, None, calibrate=False)
    assert len(e.per_class["class_count"]) == 7 and e.per_class["class_count"][3:] == [0, 0, 0, 0]
    assert sum(e.per_class["class_correct"]) / len(sub.labels) == pytest.approx(e.accuracy)


def test_many_classes_keep_counts_but_no_confusion_and_bad_labels_record_nothing():
    k = CONFUSION_MAX + 1
    got = per_class(np.arange(k), np.arange(k), k)
    assert got["confusion"] is None and got["class_count"] == [1] * k
    assert per_class(np.array([0, 5]), np.array([0, 1]), 3) == dict.fromkeys(got)


def test_a_real_trials_rows_carry_counts_that_add_up(tmp_path):
    from lpft.data import load_benchmark
    from lpft.models import build_backbone
    from lpft.strategies import STRATEGIES
    from lpft.strategies.lp import LPParams

    bench = load_benchmark("synthetic")
    result = STRATEGIES["lp"].run(bench, build_backbone("linear", "benchmark", bench), LPParams(num_cs=3))
    for r in result.rows(sweep="s", trial_id="lp-000", seed=0):
        count, correct = np.array(r["class_count"]), np.array(r["class_correct"])
        matrix = np.reshape(r["confusion"], (len(count), len(count)))
        assert count.sum() == r["n_examples"] and correct.sum() / count.sum() == pytest.approx(r["accuracy"])
        assert np.array_equal(matrix.sum(1), count) and np.array_equal(np.diag(matrix), correct)


def counts_rows(strategy, trial, seed, lr, steps, counts):
    """rows() with per-class counts: counts[(step, set)] = (class_count, class_correct)."""
    out = rows(strategy, trial, seed, lr, steps)
    for r in out:
        count, correct = counts[(r["step"], r["eval_set"])]
        k = len(count)
        confusion = np.zeros((k, k), int)
        for c in range(k):  # the wrong ones predicted as the next class
            confusion[c, c], confusion[c, (c + 1) % k] = correct[c], count[c] - correct[c]
        r.update(class_count=list(count), class_correct=list(correct), confusion=confusion.ravel().tolist(),
                 accuracy=sum(correct) / sum(count))
    return out


def test_the_report_pools_the_selected_seeds_counts_and_leaves_damaged_ones_out(tmp_path):
    rng = np.random.default_rng(1)
    sets = ("id_val", "id_test", "shift")
    written = {}
    for trial, seed, lr in (("ft-0", 0, 0.1), ("ft-1", 1, 0.1), ("ft-2", 0, 1.0), ("lp-0", 0, None)):
        strategy = trial.split("-")[0]
        counts = {}
        for step in (1, 2):
            for s in sets:
                n = rng.integers(5, 20, 3)
                counts[(step, s)] = (n.tolist(), rng.integers(0, n + 1).tolist())
        accs = {step: tuple(sum(counts[(step, s)][1]) / sum(counts[(step, s)][0]) for s in sets) for step in (1, 2)}
        rs = counts_rows(strategy, trial, seed, lr, accs, counts)
        written[trial] = pd.DataFrame(rs)
        write_trial(tmp_path / "results", strategy, trial, rs, HPARAMS)
    report = analyze([str(tmp_path)])
    chosen = report.chosen[["strategy", "trial_id", "step"]]
    rows_all = pd.concat(written.values()).merge(chosen, on=["strategy", "trial_id", "step"])
    got = report.per_class.set_index(["strategy", "eval_set", "class"])
    for (strategy, s), group in rows_all.groupby(["strategy", "eval_set"]):
        n, right = np.sum(np.stack(group.class_count), 0), np.sum(np.stack(group.class_correct), 0)
        for c in range(3):
            assert got.loc[(strategy, s, c), "n"] == n[c] and got.loc[(strategy, s, c), "correct"] == right[c]
    files = {p.name for p in write_report(report, tmp_path / "report")}
    assert {"per_class.csv", "per_class.png", "confusion.png"} <= files
    page = (tmp_path / "report" / "report.html").read_text()
    section = page.split(">Per-class accuracy</h2>", 1)[1].split("<h2", 1)[0]
    assert section.count('src="data:image/png;base64,') == 2

    # one selected file's counts damaged (correct > count): left out, counted, never an error
    bad = written["lp-0"].copy()
    bad["class_correct"] = [[99, 99, 99]] * len(bad)
    import shutil
    shutil.rmtree(tmp_path / "results" / "strategy=lp")
    write_trial(tmp_path / "results", "lp", "lp-0", bad.to_dict("records"), HPARAMS)
    report = analyze([str(tmp_path)])
    assert "lp" not in set(report.per_class.strategy)
    assert any("per-class accuracy: 3 of the selected models' evaluations left out" in n for n in report.notes)
