"""The Optuna study of each strategy's search, persisted as a JournalStorage file for optuna-dashboard.

Each strategy's search runs on an in-memory study (`lpft.sweeps.searcher.OptunaBranch`),
rebuilt from the sweep's ledger on `--resume`; the journal is written from the ended
trials at the end of each run of the sweep, replacing that strategy's study each time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from lpft.results import COMPLETED, DIVERGED
from lpft.search_spaces import Param
from lpft.storage import Location


def distribution(param: Param) -> Any:
    """A Param as the Optuna distribution it samples from."""
    import optuna.distributions as d

    if param.kind == "float":
        return d.FloatDistribution(param.low, param.high, log=param.log)
    if param.kind == "int":
        return d.IntDistribution(int(param.low), int(param.high), log=param.log)
    return d.CategoricalDistribution(list(param.choices))


def export_studies(where: Location, studies: list[tuple[str, dict[str, Param], list[dict[str, Any]]]],
                   metrics: tuple[str, ...]) -> None:
    """Every strategy's study into one journal, built locally and written whole to `where`."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "optuna.journal"
        for name, space, trials in studies:
            export_study(path, name, space, trials, metrics)
        if path.exists():
            with where.open_write() as f:
                f.write(path.read_bytes())


def export_study(path: Path, study_name: str, space: dict[str, Param], trials: list[dict[str, Any]],
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
    searched = {k: p for k, p in space.items() if p.kind != "constant"}
    for t in trials:
        done = t["status"] in (COMPLETED, DIVERGED) and all(t.get(m) is not None for m in metrics)
        params = {k: t.get(f"hp.{k}") for k in searched}
        if any(v is None for v in params.values()):
            continue
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions={k: distribution(p) for k, p in searched.items()},
            values=[float(t[m]) for m in metrics] if done else None,
            state=optuna.trial.TrialState.COMPLETE if done else optuna.trial.TrialState.FAIL,
            user_attrs={"trial_id": t["trial_id"], "status": t["status"]}))
