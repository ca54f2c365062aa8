"""What a strategy returns: its evaluations (one per step and eval set), status and model.

The results dataset these become (its schema, writing and reading) is `lpft.dataset`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """A trial's status: a strategy's result (completed, diverged), and in a sweep's per-trial
    table also stopped (by ASHA) and error (the trial raised); a trial is running until it ends,
    and interrupted when the sweep was stopped (SIGINT, SIGTERM) before it ended: `--resume` runs
    it again from its last checkpoint. The ended ones count against a strategy's trial budget.
    Members are strings: a status read back from a file (a plain str) compares equal."""

    COMPLETED = "completed"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    ERROR = "error"
    RUNNING = "running"
    INTERRUPTED = "interrupted"


COMPLETED, STOPPED, DIVERGED, ERROR = Status.COMPLETED, Status.STOPPED, Status.DIVERGED, Status.ERROR
PER_CLASS = ("class_count", "class_correct", "confusion")  # results columns: lists of ints per class
CONFUSION_MAX = 50  # classes up to which a confusion matrix is recorded (50 x 50 counts a row)
RUNNING, INTERRUPTED = Status.RUNNING, Status.INTERRUPTED
STATUSES = (COMPLETED, STOPPED, DIVERGED, ERROR, RUNNING)  # what a RunResult may say
ENDED = (COMPLETED, STOPPED, DIVERGED, ERROR)


# Evaluation.adapt: the model as trained, or after test-time BatchNorm adaptation (AdaBN).
PLAIN, BN_ADAPTED = "none", "bn"


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of one model (at one step) on one eval set."""

    step: int
    eval_set: str
    role: str
    accuracy: float
    # PLAIN: the model as trained; BN_ADAPTED: after re-estimating BatchNorm statistics on this
    # eval set's images (AdaBN). Adapted scores are extra rows, never in place of the plain ones.
    adapt: str = PLAIN
    n: int = 0  # how many examples were scored (0: not recorded); the accuracy moves in steps of 1/n
    # ECE, NLL, Brier ... raw and temperature-scaled (`lpft.calibration.COLUMNS`); a value is None
    # where it could not be computed, and the dict is empty where calibration was not asked for.
    calibration: Mapping[str, float | None] = field(default_factory=dict)
    # The reliability diagram's bins (`lpft.calibration.RELIABILITY`: counts, confidence and
    # correct sums per equal-width bin); empty where calibration was not asked for.
    reliability: Mapping[str, list | None] = field(default_factory=dict)
    # Per class of the benchmark (PER_CLASS): how many examples of each true class were scored,
    # how many of them right, and, for up to CONFUSION_MAX classes, the confusion counts (true x
    # predicted, row-major); empty where not recorded.
    per_class: Mapping[str, list | None] = field(default_factory=dict)


def calibration_gaps(evals: list[Evaluation]) -> dict[str, int]:
    """How many evaluations have no calibration (logits not all finite, a label outside the
    classes scored) and how many no temperature-scaled one (no temperature could be fit on ID
    val); the keys only where the count is not 0. Reported, never an error."""
    asked = [e for e in evals if e.calibration]
    gaps = {"calibration_empty": sum(e.calibration.get("ece") is None for e in asked),
            "temperature_empty": sum(e.calibration.get("ece") is not None and e.calibration.get("temperature") is None
                                     for e in asked)}
    return {k: v for k, v in gaps.items() if v}


def step_metrics(evals: list[Evaluation]) -> dict[str, float]:
    """Per-step metrics: id_val, id_test, ood_avg, and acc/<eval_set> for every set (plain models;
    BatchNorm-adapted scores as acc_bn/<eval_set>, never in the metrics searchers rank by)."""
    out = {f"acc_bn/{e.eval_set}": e.accuracy for e in evals if e.adapt != PLAIN}
    evals = [e for e in evals if e.adapt == PLAIN]
    out.update({f"acc/{e.eval_set}": e.accuracy for e in evals})
    for role in ("id_val", "id_test"):
        vals = [e.accuracy for e in evals if e.role == role]
        if vals:
            out[role] = vals[0]
    ood = [e.accuracy for e in evals if e.role == "ood"]
    if ood:
        out["ood_avg"] = sum(ood) / len(ood)
    return out


@dataclass
class RunResult:
    """What a strategy returns: every evaluation, the status, and the trained model."""

    status: str
    evaluations: list[Evaluation]
    hparams: dict[str, Any]
    model: Any = None  # the trained model: a torch module (FT, LP-FT) or a LinearHead (LP)
    # Hyperparameters that change along the run (LP's C per step of its regularisation path).
    step_hparams: dict[int, dict[str, Any]] = field(default_factory=dict)
    # What a run measured about itself (train seconds per epoch, LP's chosen C, L2-SP's drift):
    # printed by `lpft run`, never part of the results dataset.
    diagnostics: dict[str, Any] = field(default_factory=dict)
    # The strategy's name: stamped by `@strategy` into what the function returns.
    strategy: str = field(default="", kw_only=True)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:  # RunResult("ft", status, ...): the name is no longer passed
            raise TypeError(f"RunResult(status, evaluations, hparams, ...): status {self.status!r} is not one "
                            f"of {', '.join(STATUSES)} (@strategy fills in the strategy's name)")

    def metrics(self, step: int) -> dict[str, float]:
        """`step_metrics` of this run's evaluations at `step`."""
        return step_metrics([e for e in self.evaluations if e.step == step])

    def accuracies(self, step: int, adapt: str = PLAIN) -> dict[str, float]:
        return {e.eval_set: e.accuracy for e in self.evaluations if e.step == step and e.adapt == adapt}

    @property
    def selected_step(self) -> int | None:
        """The step with the best (plain) ID val accuracy (earliest on ties), as the paper selects."""
        val = [e for e in self.evaluations if e.role == "id_val" and e.adapt == PLAIN]
        if not val:
            return None
        return max(val, key=lambda e: (e.accuracy, -e.step)).step

    @property
    def final(self) -> dict[str, float]:
        step = self.selected_step
        return {} if step is None else self.accuracies(step)

    def rows(self, **columns: Any) -> list[dict[str, Any]]:
        """Rows in the results schema; `columns` supplies sweep, trial_id, seed and hp.* values."""
        def hp(step: int) -> dict[str, Any]:
            merged = {**self.hparams, **self.step_hparams.get(step, {})}
            return {f"hp.{k}": v for k, v in merged.items()}

        return [
            {"strategy": self.strategy, **columns, "step": e.step, "eval_set": e.eval_set,
             "role": e.role, "accuracy": e.accuracy, "adapt": e.adapt, "n_examples": e.n or None,
             **e.calibration, **e.reliability, **e.per_class, **hp(e.step)}
            for e in self.evaluations
        ]
