"""TensorBoard with steps that mean one thing: Ray's TBX logger callback, given each trial's own
step and tags that say what the step is.

Ray's callback plots every result at `timesteps_total or training_iteration`: a step of 0 (LP's
first C) became 1, and a trial's final report (its selected step's metrics again, at that step)
sent curves back in time. Here a fine-tuning trial's metrics go under `ray/tune/<metric>` at its
epoch; a trial whose steps walk a path (LP's C index, WiSE's alpha index) under
`ray/tune/path/<metric>` at that index, so the two never share an x-axis meaning; and the final
report only adds `ray/tune/selected/<metric>`, once, at the last step the trial logged.
"""

from __future__ import annotations

from typing import Any

from ray.tune.logger import TBXLoggerCallback
from ray.tune.result import TIMESTEPS_TOTAL, TRAINING_ITERATION

SELECTED = ("id_val", "id_test", "ood_avg", "selected_step")


def walks_a_path(strategy: str) -> bool:
    """Whether a strategy's steps are points of a path (hyperparameters that change along the
    trial) rather than training epochs."""
    from lpft.strategies import STRATEGIES

    return strategy in STRATEGIES and bool(STRATEGIES[strategy].step_hparams)


class StepLogger(TBXLoggerCallback):
    """`TBXLoggerCallback` with lpft's steps (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[Any, int] = {}  # trial -> the last step it logged

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        if result.get("final"):
            shown = {f"selected/{k}": result[k] for k in SELECTED if isinstance(result.get(k), (int, float))}
            step = self._last.get(trial, 0)
        elif "step" in result:
            step = int(result["step"])
            if step <= self._last.get(trial, -1):  # a step a resumed trial reports again: logged once
                return
            path = walks_a_path(str((trial.config or {}).get("strategy", "")))
            shown = {(f"path/{k}" if path else k): v for k, v in result.items()
                     if k not in ("step", TIMESTEPS_TOTAL, TRAINING_ITERATION, "config")}
            self._last[trial] = step
        else:
            return
        # Ray takes `timesteps_total or training_iteration` as the step: with the first None, the
        # second is the step itself, 0 included (and neither is logged as a scalar)
        super().log_trial_result(iteration, trial, {**shown, TRAINING_ITERATION: step, TIMESTEPS_TOTAL: None})

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        self._last.pop(trial, None)
        super().log_trial_end(trial, failed)
