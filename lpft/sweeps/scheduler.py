"""ASHA per strategy inside one Tuner: early stopping compares trials of one strategy only.

LP reports one step per C (50) and FT one per epoch, so one ASHA over every trial would
stop trials for being a different strategy. Replicate trials always run to the end.
"""

from __future__ import annotations

from typing import Any

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from lpft.sweeps.stages import SEARCH


class PerStrategyASHA(FIFOScheduler):
    def __init__(self, metric: str, mode: str = "max") -> None:
        super().__init__()
        self._args: dict[str, Any] = {"metric": metric, "mode": mode, "grace_period": 1, "reduction_factor": 2}
        self._ashas: dict[str, ASHAScheduler] = {}

    def _asha(self, trial: Any) -> ASHAScheduler | None:
        if trial.config.get("stage") != SEARCH:
            return None
        name = trial.config.get("strategy", "")
        if name not in self._ashas:
            self._ashas[name] = ASHAScheduler(**self._args)
        return self._ashas[name]

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        if (asha := self._asha(trial)) is not None:
            asha.on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        asha = self._asha(trial)
        if asha is None or result.get("final"):  # the trial's closing summary is not a rung
            return TrialScheduler.CONTINUE
        return asha.on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
        if (asha := self._asha(trial)) is not None:
            asha.on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        if (asha := self._asha(trial)) is not None:
            asha.on_trial_remove(tune_controller, trial)
