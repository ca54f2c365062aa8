"""The live Optuna study of one strategy (lpft.sweeps.searcher.OptunaBranch on the sweep's
journal), without Ray running: what a driver killed mid-trial leaves, and what its resume makes
of it. Every lpft trial is one Optuna trial, with its steps, status and accuracies."""

import optuna

from lpft.search_spaces import Param
from lpft.storage import locate
from lpft.sweeps.searcher import OptunaBranch
from lpft.sweeps.study import journal

SPACE = {"lr": Param("float", low=1e-3, high=1.0, log=True)}


def branch(path):
    return OptunaBranch("s.ft", SPACE, {"strategy": "ft", "seed": 0}, ["id_val"], 0, journal(locate(path)))


def ended(id_val):
    return {"status": "completed", "final": True, "id_val": id_val, "id_test": id_val, "ood_avg": 0.5}


def test_a_resumed_study_ends_the_cut_off_trial_and_tells_nothing_twice(tmp_path):
    path = tmp_path / "optuna.journal"
    first = branch(path)
    a, b = first.suggest("ft-000"), first.suggest("ft-001")
    for step, acc in ((10, 0.6), (20, 0.7)):
        first.on_trial_result("ft-000", {"step": step, "id_val": acc})
    first.on_trial_complete("ft-000", {**a, "trial": "ft-000"}, ended(0.7), error=False)
    first.on_trial_result("ft-001", {"step": 10, "id_val": 0.5})  # then the driver dies

    second = branch(path)  # --resume: the ledger says ft-000 ended, ft-001 did not
    second.tell({**a, "trial": "ft-000"}, {"trial_id": "ft-000", **ended(0.7)}, error=False)  # restore_from
    second.on_trial_result("ft-001", {"step": 20, "id_val": 0.8})  # re-issued, from its checkpoint
    second.on_trial_result("ft-001", {"id_val": 0.8, "final": True})  # the final report: not a step
    second.on_trial_complete("ft-001", {**b, "trial": "ft-001"}, ended(0.8), error=False)

    study = optuna.load_study(study_name="s.ft", storage=journal(locate(path)))
    trials = {t.user_attrs["trial_id"]: t for t in study.trials}
    assert len(study.trials) == 2 and set(trials) == {"ft-000", "ft-001"}
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert trials["ft-000"].intermediate_values == {10: 0.6, 20: 0.7}
    assert trials["ft-001"].intermediate_values == {10: 0.5, 20: 0.8}  # both runs' steps
    assert trials["ft-001"].value == 0.8 and trials["ft-001"].params == {"lr": b["lr"]}
    assert trials["ft-001"].user_attrs["status"] == "completed" and trials["ft-001"].user_attrs["ood_avg"] == 0.5
    assert study.metric_names == ["id_val"]


def test_a_ledger_rows_status_is_kept_and_a_stopped_trial_says_so(tmp_path):
    b = branch(tmp_path / "optuna.journal")
    b.tell({"lr": 0.1, "trial": "ft-000"}, {"trial_id": "ft-000", "status": "diverged", "id_val": 0.1}, error=False)
    c = b.suggest("ft-001")
    b.on_trial_result("ft-001", {"step": 10, "id_val": 0.4})
    b.on_trial_complete("ft-001", {**c, "trial": "ft-001"}, {"step": 10, "id_val": 0.4}, error=False)  # ASHA
    statuses = {t.user_attrs["trial_id"]: t.user_attrs["status"] for t in b.study.trials}
    assert statuses == {"ft-000": "diverged", "ft-001": "stopped"}


def test_an_optuna_trial_cut_off_before_lpft_named_it_fails_on_resume(tmp_path):
    path = tmp_path / "optuna.journal"
    first = branch(path)
    first.suggest("ft-000")
    # The driver dies between Optuna's ask and lpft's naming of the trial it asked for.
    first.study.ask()
    second = branch(path)  # --resume
    study = optuna.load_study(study_name="s.ft", storage=journal(locate(path)))
    states = {t.user_attrs.get("trial_id"): t.state for t in study.trials}
    assert states == {"ft-000": optuna.trial.TrialState.RUNNING, None: optuna.trial.TrialState.FAIL}
    assert "ft-000" in second.open  # the named one is re-issued and ended by its run


def test_a_trial_named_but_not_yet_in_the_ledger_runs_its_optuna_point_as_its_one_optuna_trial(tmp_path):
    path = tmp_path / "optuna.journal"
    first = branch(path)
    a = first.suggest("ft-000")
    first.on_trial_complete("ft-000", {**a, "trial": "ft-000"}, ended(0.7), error=False)
    b = first.suggest("ft-001")  # the driver dies before the ledger records ft-001: Ray never ran it

    second = branch(path)  # --resume: the ledger knows ft-000 only, so the searcher asks for ft-001 again
    second.tell({**a, "trial": "ft-000"}, {"trial_id": "ft-000", **ended(0.7)}, error=False)
    again = second.suggest("ft-001")
    assert again == b  # the point Optuna chose for ft-001, constants included
    second.on_trial_result("ft-001", {"step": 10, "id_val": 0.6})
    second.on_trial_complete("ft-001", {**again, "trial": "ft-001"}, ended(0.6), error=False)
    c = second.suggest("ft-002")  # later trials are new asks

    study = optuna.load_study(study_name="s.ft", storage=journal(locate(path)))
    names = [t.user_attrs["trial_id"] for t in study.trials]
    assert sorted(names) == ["ft-000", "ft-001", "ft-002"]
    one = next(t for t in study.trials if t.user_attrs["trial_id"] == "ft-001")
    assert one.state == optuna.trial.TrialState.COMPLETE and one.value == 0.6
    assert one.intermediate_values == {10: 0.6} and one.params == {"lr": b["lr"]}
    assert c["lr"] != b["lr"]


def test_a_killed_drivers_hold_on_the_journal_is_released_at_the_next_start(tmp_path):
    """A driver SIGKILLed while appending leaves Optuna's lock (a symlink beside the journal);
    Optuna breaks it only after 30 s, so each resume after such a kill stalled that long. Under
    the sweep's own lock the next driver is the journal's only writer: it releases it at once."""
    import os
    import time

    from optuna.storages.journal import JournalFileSymlinkLock

    from lpft.sweeps.study import release_dead_journal_lock

    path = tmp_path / "optuna.journal"
    branch(path).suggest("ft-000")
    JournalFileSymlinkLock(str(path)).acquire()  # and never released: what the kill leaves
    assert os.path.lexists(f"{path}.lock")
    assert release_dead_journal_lock(locate(path)) is True
    assert not os.path.lexists(f"{path}.lock")
    t0 = time.monotonic()
    branch(path).suggest("ft-001")  # appends at once: no lock to wait out
    assert time.monotonic() - t0 < 10
    assert release_dead_journal_lock(locate(path)) is False  # none held: nothing done
    study = optuna.load_study(study_name="s.ft", storage=journal(locate(path)))
    assert len(study.trials) == 2
