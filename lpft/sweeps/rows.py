"""A trial as its row of the trials table: a Ray trial that ended, or a ledger entry that did not."""

from __future__ import annotations

from typing import Any

from lpft.results import ERROR, RUNNING, STOPPED
from lpft.storage import Location
from lpft.sweeps.ledger import Entry
from lpft.sweeps.trial_row import TrialRow
from lpft.trainables.trainable import META_KEYS, SELECTED_HP, TRIAL_KEY


def trial_row(trial: Any, root: Location, error: bool) -> TrialRow:
    """A Ray trial that ended, as its row of the trials table."""
    m = trial.last_result or {}
    config = trial.config
    final = bool(m.get("final"))
    status = ERROR if error else (m.get("status") if final else STOPPED)
    return TrialRow(
        trial_id=str(config.get(TRIAL_KEY) or trial.trial_id), strategy=config.get("strategy"),
        stage=config.get("stage"), seed=config.get("seed"), status=status, node=m.get("node"),
        wall_time_s=m.get("time_total_s"),
        resumed_from_step=m.get("resumed_from_step"), cpus=m.get("cpus"), gpus=m.get("gpus"),
        id_val=m.get("id_val"), id_test=m.get("id_test"), ood_avg=m.get("ood_avg"),
        seed_controls=m.get("seed_controls") if final else None,  # "": deterministic
        n_id_val=m.get("n_id_val") if final else None,
        # an errored trial's first line, and where Ray kept its whole traceback
        error=_error_line(trial) if error else None,
        traceback=_uri(root, f"{trial.path}/error.txt") if error and trial.path else None,
        hparams=_hparams(config),
        # LP's C, WiSE's alpha at the selected step: not hp.* (not part of the config)
        selected={k.removeprefix(SELECTED_HP): v for k, v in m.items() if k.startswith(SELECTED_HP)} if final else {})


def _hparams(config: dict[str, Any]) -> dict[str, Any]:
    """A trial config's hyperparameters (the trials table's `hp.*` columns; the seed has its own)."""
    return {k: v for k, v in config.items() if k not in (*META_KEYS, "seed")}


def _error_line(trial: Any) -> str:
    """From the exception Ray pickled beside the trial's local files (its upload to the sweep's
    storage may not have happened yet when the trial's end is reported)."""
    import pickle

    try:
        with open(trial.pickled_error_file, "rb") as f:
            return error_line(pickle.load(f))  # our own driver's file, pickled by Ray
    except Exception:  # noqa: BLE001 - any unreadable error file: say so rather than fail the sweep
        return "error (see the traceback file)"


def unfinished_row(entry: Entry, status: str = RUNNING) -> TrialRow:
    """A trial asked for whose end the ledger does not hold (`interrupted` when the sweep was
    stopped by a signal): `--resume` runs it again."""
    c = entry.config
    return TrialRow(entry.trial, c.get("strategy"), c.get("stage"), c.get("seed"), status, hparams=_hparams(c))


def _uri(root: Location, path: str) -> str:
    """A path on the sweep's file system as the user names it (s3://bucket/... on an object store)."""
    return path if root.is_local else f"{root.scheme}://{path}"


def error_line(error: BaseException | None) -> str:
    """`Type: first line` of the trial's own exception (Ray wraps it in a RayTaskError)."""
    cause = getattr(error, "cause", None) or error
    lines = [ln.strip() for ln in str(cause).splitlines() if ln.strip()]
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
