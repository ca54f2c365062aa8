"""Experiment trackers a sweep sends its trials to, through Ray Tune's own logger callbacks.

Chosen per sweep (`loggers: [tensorboard, mlflow, wandb]` in the spec, `--logger` on the
command line); none by default. Each gets every reported step of every trial: the accuracies
(`acc/<set>`, `id_val`, `id_test`, `ood_avg`), and for fine-tuning the epoch's `train_loss`
and `lr`, at the trial's own step (its epoch; LP's C index). In TensorBoard a path's steps
(LP's C, WiSE's alpha) go under their own `path/` tags (`lpft.sweeps.tensorboard`).

- tensorboard: event files in each trial's folder under `<sweep>/ray/<run>/<trial>/`.
- mlflow: one run per trial (named like the trial, `ft-003`), hyperparameters as params,
  into `tracking_uri` (the spec's, else `MLFLOW_TRACKING_URI`, else `<sweep>/mlruns`).
- wandb: one run per trial, grouped by sweep, in `project` (default the sweep's name);
  `WANDB_MODE=offline` keeps runs on disk under `<sweep>/wandb/` with no network.

A tracker whose package is missing is one InputError naming the extra to install, before
Ray starts.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lpft.errors import InputError
from lpft.registry import Registry
from lpft.storage import Location
from lpft.trainables.trainable import TRIAL_KEY


@dataclass(frozen=True)
class Tracker:
    module: str  # what must import for it to work
    extra: str  # pip install 'lpft[<extra>]'
    options: tuple[str, ...]  # the keys its spec entry may set
    make: Callable[[str, Location, dict[str, Any]], Any]  # (sweep name, sweep root, options) -> a Tune callback
    check: Callable[[Location, dict[str, Any]], Any] | None = None  # raises InputError before Ray starts


TRACKERS: Registry[Tracker] = Registry("logger")


def check_trackers(loggers: dict[str, dict[str, Any]], root: Location) -> None:
    """Every chosen tracker's package imports and its options fit the sweep's storage; else one
    line naming what to install or to set."""
    for name, options in loggers.items():
        tracker = TRACKERS[name]
        try:
            importlib.import_module(tracker.module)
        except ImportError:
            raise InputError(f"loggers: {name} needs the {tracker.module} package: "
                             f"pip install 'lpft[{tracker.extra}]'") from None
        if tracker.check is not None:
            tracker.check(root, options)


def tracker_callbacks(name: str, root: Location, loggers: dict[str, dict[str, Any]]) -> list[Any]:
    return [TRACKERS[logger].make(name, root, options) for logger, options in loggers.items()]


@contextmanager
def tracker_env() -> Iterator[None]:
    """Trackers change the process's environment (mlflow.set_tracking_uri sets
    MLFLOW_TRACKING_URI; lpft, MLFLOW_ALLOW_FILE_STORE; Ray's W&B callback, WANDB_START_METHOD):
    put back after the sweep, so the next sweep in this process (a notebook, a bench) starts
    from the user's, not from the last sweep's folder."""
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_ALLOW_FILE_STORE", "WANDB_START_METHOD")
    before = {n: os.environ.get(n) for n in names}
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def trial_name(trial: Any) -> str:
    """A Ray trial's name and folder under `<sweep>/ray/<run>/`: its lpft name (`ft-003`), so
    TensorBoard's, MLflow's and W&B's run lists read like the results. Unique within a run."""
    return str(trial.config.get(TRIAL_KEY) or trial.trial_id)


def _tensorboard(sweep: str, root: Location, options: dict[str, Any]) -> Any:
    from lpft.sweeps.tensorboard import StepLogger

    return StepLogger()


def _mlflow_uri(root: Location, options: dict[str, Any]) -> str:
    uri = options.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        if not root.is_local:
            raise InputError("loggers.mlflow.tracking_uri: needed when the sweep's storage is an object store "
                             "(or set MLFLOW_TRACKING_URI)")
        uri = f"file:{(root / 'mlruns').path}"
    return uri


def _mlflow(sweep: str, root: Location, options: dict[str, Any]) -> Any:
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    uri = _mlflow_uri(root, options)
    if uri.startswith("file:") or "://" not in uri:
        # MLflow 3 keeps a folder store only on request; a local mlruns/ with no server is the point here.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    # Runs are named after their lpft trial (`ft-003`): the Tuner's trial_name_creator is `trial_name`.
    return MLflowLoggerCallback(tracking_uri=uri, experiment_name=options.get("experiment") or sweep,
                                tags={"sweep": sweep})


def _wandb(sweep: str, root: Location, options: dict[str, Any]) -> Any:
    from lpft.sweeps.wandb_actor import FlushingWandbCallback

    kwargs: dict[str, Any] = {}
    if os.environ.get("WANDB_MODE"):  # the logging actors may run where the driver's env is not
        kwargs["mode"] = os.environ["WANDB_MODE"]
    if root.is_local:
        os.makedirs((root / "wandb").path, exist_ok=True)
        kwargs["dir"] = (root / "wandb").path
    return FlushingWandbCallback(project=options.get("project") or os.environ.get("WANDB_PROJECT") or sweep,
                                 group=options.get("group") or sweep, **kwargs)


TRACKERS.register("tensorboard")(Tracker("tensorboardX", "tensorboard", (), _tensorboard))
TRACKERS.register("mlflow")(Tracker("mlflow", "mlflow", ("tracking_uri", "experiment"), _mlflow, _mlflow_uri))
TRACKERS.register("wandb")(Tracker("wandb", "wandb", ("project", "group"), _wandb))
