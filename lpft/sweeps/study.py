"""The Optuna study of each strategy's search, in a JournalStorage file for optuna-dashboard.

On a file system the sweep's `optuna.journal` is the studies' own storage while the sweep
runs (`journal`), so `optuna-dashboard <sweep>/optuna.journal` follows it live, and a
resumed sweep continues in it (`lpft.sweeps.searcher.OptunaBranch`). Strategies searched on
the paper's grid have no Optuna study while they run: theirs is written from their ended
trials at the end of each run. On an object store, where a journal cannot be appended to,
every study runs in memory and the whole journal is written at the end of each run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from lpft.results import COMPLETED, DIVERGED, ERROR, STOPPED
from lpft.search_spaces import Kind, Param
from lpft.storage import Location
from lpft.sweeps.trial_row import TrialRow


def distribution(param: Param) -> Any:
    """A Param as the Optuna distribution it samples from."""
    import optuna.distributions as d

    if param.kind == Kind.FLOAT:
        assert param.low is not None and param.high is not None  # a range has both bounds
        return d.FloatDistribution(param.low, param.high, log=param.log)
    if param.kind == Kind.INT:
        assert param.low is not None and param.high is not None  # a range has both bounds
        return d.IntDistribution(int(param.low), int(param.high), log=param.log)
    return d.CategoricalDistribution(list(param.choices))


def trial_attrs(result: dict[str, Any] | None, error: bool) -> dict[str, Any]:
    """A trial's end as Optuna user attributes: its status and selected step's accuracies."""
    result = result or {}
    # A final report and a ledger row say their status; a trial whose last report is a step's was stopped.
    status = ERROR if error else result.get("status", STOPPED)
    return {"status": status, **{k: round(float(result[k]), 6) for k in ("id_val", "id_test", "ood_avg")
                                 if isinstance(result.get(k), (int, float))}}  # 0.5095, not 0.5095000000000001


def name_metrics(study: Any, metrics: list[str] | tuple[str, ...]) -> None:
    """The objectives' names (`id_val`), as optuna-dashboard shows them instead of "Objective 0"."""
    import warnings

    import optuna

    with warnings.catch_warnings():  # experimental since Optuna 3.2, and what the dashboard reads
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(metrics))


def release_dead_journal_lock(where: Location) -> bool:
    """Optuna's lock on the journal, left by a run that was killed while appending to it:
    released. Called under the sweep's own lock (`lpft.sweeps.lock`), so this driver is the
    journal's only writer and a lock found now is a dead run's; Optuna itself waits 30 s before
    it breaks one, which stalled every resume after such a kill. Whether one was released."""
    if not where.is_local:
        return False
    from optuna.storages.journal import JournalFileSymlinkLock

    try:
        JournalFileSymlinkLock(where.path).release()
    except RuntimeError:  # none held
        return False
    return True


def journal(where: Location) -> Any:
    """The sweep's journal as a live Optuna storage, or None on an object store."""
    if not where.is_local:
        return None
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    Path(where.path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(where.path))


def export_studies(where: Location, studies: list[tuple[str, dict[str, Param], list[TrialRow]]],
                   metrics: tuple[str, ...], selections: dict[str, dict[str, Any]] | None = None) -> None:
    """These strategies' studies (rebuilt from their ended trials) into the journal: appended to
    a local one, else built locally and written whole to `where`. `selections`: study name ->
    lpft's selected config (`mark_selection`), for every study in the journal."""
    if where.is_local:
        for name, space, trials in studies:
            export_study(Path(where.path), name, space, trials, metrics)
        mark_selections(Path(where.path), selections or {})
        return
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "optuna.journal"
        for name, space, trials in studies:
            export_study(path, name, space, trials, metrics)
        mark_selections(path, selections or {})
        if path.exists():
            with where.open_write() as f:
                f.write(path.read_bytes())


def export_study(path: Path, study_name: str, space: dict[str, Param], trials: list[TrialRow],
                 metrics: tuple[str, ...]) -> None:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(path)))
    try:
        optuna.delete_study(study_name=study_name, storage=storage)
    except KeyError:
        pass
    study = optuna.create_study(study_name=study_name, storage=storage, directions=["maximize"] * len(metrics))
    name_metrics(study, metrics)
    searched = {k: p for k, p in space.items() if p.kind != Kind.CONSTANT}
    for t in trials:
        scores = [t.metric(m) for m in metrics]
        done = t.status in (COMPLETED, DIVERGED) and all(v is not None for v in scores)
        params = {k: t.hparams.get(k) for k in searched}
        if any(v is None for v in params.values()):
            continue
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions={k: distribution(p) for k, p in searched.items()},
            values=[float(v) for v in scores if v is not None] if done else None,
            state=optuna.trial.TrialState.COMPLETE if done else optuna.trial.TrialState.FAIL,
            user_attrs={"trial_id": t.trial_id, **trial_attrs(t.record(), error=False)}))


SELECTED = "lpft_selected"  # the study user attribute naming lpft's selection


def mark_selections(path: Path, selections: dict[str, dict[str, Any]]) -> None:
    """Each study's user attribute `lpft_selected`: the config lpft selected (`lpft.best`, as the
    summary and `lpft analyze` name it), its search trial and its seed means, so a dashboard user
    sees lpft's choice beside Optuna's own `best_trial` (which breaks ties by trial order). A
    study attribute, as Optuna lets no finished trial's attributes change."""
    if not path.exists() or not selections:
        return
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(path)))
    names = {s.study_name for s in storage.get_all_studies()}
    for name, selected in selections.items():
        if name in names:
            study = optuna.load_study(study_name=name, storage=storage)
            number = next((t.number for t in study.get_trials(deepcopy=False)
                           if t.user_attrs.get("trial_id") == selected.get("trial_id")), None)
            study.set_user_attr(SELECTED, {**selected, "optuna_trial_number": number})
