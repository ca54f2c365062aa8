"""Seeing the search (issue 29, item 1): learning curves, accuracy against each searched
hyperparameter with a warning at a bound, Optuna's importance and history from the sweep's own
journal, read as data (a private copy; a damaged one is a note)."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from test_analysis import HPARAMS, rows

from lpft.analysis.report import analyze, write_report
from lpft.analysis.search import EDGE, Searched, at_bound, bound_warnings
from lpft.dataset import write_trial


def sweep_folder(tmp_path, lrs=(0.01, 0.03, 0.1), space=(0.001, 0.1)):
    """FT trials at `lrs` (one seed each; ID val rising with lr, so the largest is selected) over
    three epochs, LP over a 5-step C path, and the sweep's Optuna journal with `space` as lr's range."""
    for i, lr in enumerate(lrs):
        steps = {e: (0.6 + lr + 0.01 * e, 0.62 + lr, 0.4 + 0.01 * e) for e in (1, 2, 3)}
        write_trial(tmp_path / "results", "ft", f"ft-{i:03d}", rows("ft", f"ft-{i:03d}", 0, lr, steps), HPARAMS)
    write_trial(tmp_path / "results", "lp", "lp-000", rows("lp", "lp-000", 0, None, {
        s: (0.5 + 0.02 * s, 0.5, 0.3) for s in range(5)}), HPARAMS)
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "optuna.journal")))
    study = optuna.create_study(study_name="s.ft", storage=storage, direction="maximize")
    dist = {"lr": optuna.distributions.FloatDistribution(*space, log=True)}
    for i, lr in enumerate(lrs):
        study.add_trial(optuna.trial.create_trial(params={"lr": lr}, distributions=dist, value=0.63 + lr + i * 0.0,
                                                  user_attrs={"trial_id": f"ft-{i:03d}"}))
    return tmp_path


def test_at_a_bound_is_within_a_thirtieth_of_the_range_worked_by_hand():
    log = Searched("ft", "hp.lr", False, (1e-3, 1e-1), "search space", 0.1)
    assert at_bound(log) == "top"
    # log10 span 2: 0.0011 is log10(1.1)/2 = 0.0207 of the way up, under EDGE (1/33.3); 0.002 is 0.15
    assert at_bound(Searched("ft", "hp.lr", False, (1e-3, 1e-1), "search space", 0.0011)) == "bottom"
    assert math.log10(1.1) / 2 < EDGE < math.log10(2) / 2
    assert at_bound(Searched("ft", "hp.lr", False, (1e-3, 1e-1), "search space", 0.002)) is None
    assert at_bound(Searched("x", "hp.wd", False, (0.0, 1.0), "values tried", 0.5)) is None  # linear: the middle
    (line,) = bound_warnings([log], None)
    assert line.startswith("ft: the selected lr 0.1 is at the top of its search space (0.001 to 0.1)")


def test_the_report_has_the_searchs_sections_bounds_from_the_study_and_leaves_the_sweep_untouched(tmp_path):
    folder = sweep_folder(tmp_path)
    before = sorted(p.name for p in folder.iterdir())
    report = analyze([str(folder)])
    written = {p.name for p in write_report(report, tmp_path / "report")}
    assert {"learning_curves.png", "hyperparameters.png", "optuna.png"} <= written
    assert sorted(p.name for p in folder.iterdir() if p.name != "report") == before  # no lock file beside the journal
    page = (tmp_path / "report" / "report.html").read_text()
    for heading in ("Learning curves", "Hyperparameters", "Parameter importance and search history"):
        section = page.split(f">{heading}</h2>", 1)[1].split("<h2", 1)[0]
        assert 'src="data:image/png;base64,' in section, heading
    # lr's range is the study's (0.001 to 0.1), not the values tried: 0.1, selected, is at its top
    assert "At a bound: FT: the selected lr 0.1 is at the top of its search space (0.001 to 0.1)" in page
    # LP's C path: the selected step's C (here the last of 5) is at the path's end
    assert "LP: the selected C" not in page  # these rows carry no hp.C: nothing is claimed about it


def test_with_a_wider_search_space_the_same_choice_is_not_at_a_bound(tmp_path):
    folder = sweep_folder(tmp_path, space=(0.001, 1.0))
    write_report(analyze([str(folder)]), tmp_path / "report")
    assert "At a bound" not in (tmp_path / "report" / "report.html").read_text()


def test_importance_and_history_are_optunas_own_on_a_private_copy(tmp_path):
    from lpft.analysis.search import optuna_figure, read_studies

    folder = sweep_folder(tmp_path, lrs=(0.01, 0.02, 0.05, 0.1))
    copy = tmp_path / "copy"
    copy.mkdir()
    studies, notes = read_studies([{"path": str(folder)}], copy)
    assert [s.study_name for s in studies] == ["s.ft"] and notes == []
    fig, notes = optuna_figure(studies, None)
    assert len(fig.axes[1].patches) == 0 and "nothing to rank" in fig.axes[1].texts[0].get_text()  # one parameter
    best = fig.axes[0].lines[1].get_ydata()
    assert list(best) == pytest.approx(list(np.maximum.accumulate([0.64, 0.65, 0.68, 0.73])))
    # two parameters: the bars are Optuna's own seeded fANOVA importances
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "two.journal")))
    study = optuna.create_study(study_name="t.lpft", storage=storage, direction="maximize")
    space = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
             "wd": optuna.distributions.FloatDistribution(0.0, 0.1)}
    rng = np.random.default_rng(0)
    for _ in range(12):
        lr, wd = float(10 ** rng.uniform(-4, -1)), float(rng.uniform(0, 0.1))
        study.add_trial(optuna.trial.create_trial(params={"lr": lr, "wd": wd}, distributions=space,
                                                  value=0.9 - abs(math.log10(lr) + 2.5) * 0.1 - wd * 0.05))
    fig, _ = optuna_figure([study], None)
    want = optuna.importance.get_param_importances(study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    bars = {t.get_text(): b.get_width() for t, b in zip(fig.axes[1].get_yticklabels(), fig.axes[1].patches)}
    assert bars == pytest.approx(dict(want)) and want["lr"] > want["wd"]


@pytest.mark.parametrize(("damage", "noted"), [(b"{not json\n", False), (b"\x00" * 100, False),
                                               (b'{"op_code": 99}\n', True)])
def test_a_damaged_journal_is_a_note_or_no_study_never_a_traceback(tmp_path, damage, noted):
    """Lines Optuna cannot decode it skips (no study); a decodable line it cannot apply is a note."""
    folder = sweep_folder(tmp_path)
    (folder / "optuna.journal").write_bytes(damage)
    report = analyze([str(folder)])
    written = {p.name for p in write_report(report, tmp_path / "report")}
    assert "optuna.png" not in written and "learning_curves.png" in written
    page = (tmp_path / "report" / "report.html").read_text()
    assert ("not readable as an Optuna journal (AssertionError)" in page) == noted


def test_learning_curves_draw_the_selected_seeds_on_every_set_and_other_trials_faint(tmp_path):
    from lpft.analysis.search import learning_curves

    folder = sweep_folder(tmp_path)
    report = analyze([str(folder)])
    fig = learning_curves(report.frontier, report.chosen, ["id_val", "id_test", "shift"], {"ft-000"}, report.looks)
    ft = next(ax for ax in fig.axes if ax.get_title().startswith("FT"))
    solid = [ln for ln in ft.lines if ln.get_alpha() == 0.9]
    assert len(solid) == 3  # one selected trial (ft-002), three sets
    xs, ys = solid[0].get_xdata(), solid[0].get_ydata()
    frame = pd.read_parquet(folder / "results")
    want = frame[(frame.trial_id == "ft-002") & (frame.eval_set == "id_val")].sort_values("step")
    assert list(xs) == list(want.step) and list(ys) == pytest.approx(list(want.accuracy))
    faint = [ln for ln in ft.lines if ln.get_alpha() in (0.25, 0.5)]
    assert sorted(ln.get_alpha() for ln in faint) == [0.25, 0.5]  # ft-000 stopped early: fainter
